"""Durable intent: the lease columns of server groups (see cohort.core.intent), and the stray window.

Rows already in a transitional state are made due at once, so the first sweep picks up work that an
earlier version left to the broker alone.
"""

from django.db import migrations, models
from django.utils import timezone

TRANSITIONAL = ["CREATION_SCHEDULED", "CREATING", "UPDATE_SCHEDULED", "UPDATING", "DELETION_SCHEDULED", "DELETING"]


def make_pending_work_due(apps, schema_editor):
    apps.get_model("openstack", "ServerGroup").objects.filter(state__in=TRANSITIONAL).update(due_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("openstack", "0002_server_group_stable_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="servergroup",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="servergroup",
            name="due_at",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="servergroup",
            name="lease_owner",
            field=models.CharField(blank=True, default="", editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name="servergroup",
            name="strays_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(make_pending_work_due, migrations.RunPython.noop),
    ]
