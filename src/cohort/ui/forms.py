"""The web page's forms: the list's filters and the create form.

Their choices are what the user may see (filters) or manage (the tenant of a new group), read by the
caller through the selectors, so a tenant outside them is "not one of the available choices" whether
or not it exists. A name is checked as the API checks it (`validate_server_group_name`), so a group
the page accepts is one Nova accepts.
"""

from __future__ import annotations

from django import forms
from rest_framework import serializers

from cohort.openstack.api.serializers import MAX_SERVER_PER_HOST, NAME_MAX_LENGTH, validate_server_group_name
from cohort.openstack.models import ServerGroup


def tenant_choices(tenants) -> list[tuple[str, str]]:
    """(uuid hex, "tenant (project, customer)") of each tenant, each with its project and customer."""
    return [(t.uuid.hex, f"{t.name} ({t.project.name}, {t.project.customer.name})") for t in tenants]


class FilterForm(forms.Form):
    tenant = forms.ChoiceField(required=False)
    verdict = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, data, *, tenants, verdicts):
        super().__init__(data)
        self.fields["tenant"].choices = [("", "All tenants"), *tenant_choices(tenants)]
        self.fields["verdict"].choices = verdicts


class CreateForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, strip=True)
    policy = forms.ChoiceField(choices=ServerGroup.Policy.choices, initial=ServerGroup.Policy.ANTI_AFFINITY)
    tenant = forms.ChoiceField()
    max_server_per_host = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_SERVER_PER_HOST,
        label="Max servers per host",
        help_text="Anti-affinity only; empty for one.",
    )

    def __init__(self, data=None, *, tenants, full: dict[str, str] | None = None):
        super().__init__(data)
        self.fields["tenant"].choices = tenant_choices(tenants)
        self.full = full or {}  # uuid hex -> why a new group cannot go there (its quota is used up)

    def tenant_options(self) -> list[tuple[str, str, str]]:
        """(value, label, why it is disabled or "") of each tenant the form offers."""
        return [(value, label, self.full.get(value, "")) for value, label in self.fields["tenant"].choices]

    def clean_name(self):
        name = self.cleaned_data["name"]
        try:
            validate_server_group_name(name)
        except serializers.ValidationError as refused:
            raise forms.ValidationError(refused.detail) from None
        return name

    def rules(self) -> dict:
        value = self.cleaned_data.get("max_server_per_host")
        return {"max_server_per_host": value} if value else {}
