"""Find a record named on the command line by uuid or by name."""

from django.core.management.base import CommandError

from cohort.core.references import parse_uuid


def find(model, reference: str, **extra):
    parsed = parse_uuid(reference)
    queryset = model.objects.filter(**extra)
    matches = list(queryset.filter(uuid=parsed)) if parsed else list(queryset.filter(name=reference)[:2])
    if len(matches) != 1:
        raise CommandError(
            f"{model.__name__} {reference!r}: {'not found' if not matches else 'ambiguous, give its uuid'}"
        )
    return matches[0]
