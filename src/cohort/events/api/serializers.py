"""An event on the wire, as the reference's clients read it: uuid, created, event_type, message, context."""

from rest_framework import serializers

from cohort.events.models import Event

FIELDS = ("uuid", "created", "event_type", "message", "context")


class EventSerializer(serializers.ModelSerializer):
    uuid = serializers.UUIDField(format="hex", read_only=True)
    context = serializers.DictField(read_only=True)

    class Meta:
        model = Event
        fields = FIELDS
        read_only_fields = FIELDS

    def to_representation(self, instance) -> dict:
        """Only the keys the client asked for with `field=` (repeated), if it asked."""
        data = super().to_representation(instance)
        request = self.context.get("request")
        wanted = [name for name in (request.query_params.getlist("field") if request else []) if name in FIELDS]
        return {name: data[name] for name in wanted} if wanted else data
