"""The event log: one row per thing that happened, written in the transaction of the change itself.

`context` holds what the reference's clients read (the acting user, the object, its tenant, project
and customer, what changed). The columns beside it repeat what scoping and filtering need, so that no
query reads the JSON: the object's type and uuid, its tenant, project and customer uuids, and whether
only staff may see it. They are plain uuids, not foreign keys: an event outlives what it is about.
"""

import uuid

from django.db import models


class Event(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(db_index=True)
    event_type = models.CharField(max_length=100, db_index=True)
    message = models.TextField()
    context = models.JSONField(default=dict)
    scope_type = models.CharField(max_length=60, blank=True, default="")
    scope_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    tenant_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    project_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    customer_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    staff_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.event_type}: {self.message}"
