from django.apps import AppConfig


class OpenStackConfig(AppConfig):
    name = "cohort.openstack"
    label = "openstack"
    verbose_name = "OpenStack"
