"""Cloud credentials encrypted at rest: `EncryptedJSONField`, and the keys it uses.

The column holds a Fernet token of the value's JSON (AES-CBC with an HMAC-SHA256: a token that was
altered or made with another key is refused whole, never half-read); Python code gets the same dict as
before. The keys are `settings.CREDENTIALS_KEYS` (COHORT_CREDENTIALS_KEY, else a key file in
COHORT_HOME). The first encrypts and all decrypt (`MultiFernet`), so a key is rotated by putting the
new one first, re-encrypting every row (`cohort rotate-credentials-key`), then dropping the old one.

Design choice: a row's token is decrypted when the attribute is first read, not when the row is
loaded. Lists of tenants and admin pages, which never read credentials, cost no decryption and keep
working under a wrong key; what needs the secret (a cloud call) fails with `CredentialsKeyError`,
which names the setting to fix and never a key or a secret. A row saved without its credentials being
read keeps its token as it was. `values()` gives a `Sealed` token, and filtering on the column
compares tokens (which are randomised), so neither ever shows a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.query_utils import DeferredAttribute

KEY_SETTING = "COHORT_CREDENTIALS_KEY"


class CredentialsKeyError(ImproperlyConfigured):
    """The configured keys cannot encrypt or decrypt credentials."""


def generate_key() -> str:
    """A new random Fernet key, as COHORT_CREDENTIALS_KEY takes it."""
    return Fernet.generate_key().decode()


_GENERATE = "`cohort rotate-credentials-key --generate`"


def _keys() -> tuple[Fernet, MultiFernet]:
    """The first key, which encrypts, and all the keys, which decrypt."""
    return _load_keys(tuple(settings.CREDENTIALS_KEYS))


@lru_cache(maxsize=4)
def _load_keys(configured: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    if not configured:
        raise CredentialsKeyError(f"No credentials key: set {KEY_SETTING} to a key made by {_GENERATE}.")
    fernets = []
    for position, key in enumerate(configured, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise CredentialsKeyError(
                f"Key {position} of {len(configured)} in {KEY_SETTING} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes); make one with {_GENERATE}."
            ) from None
    return fernets[0], MultiFernet(fernets)


def _undecryptable(what: str) -> CredentialsKeyError:
    key_file = getattr(settings, "CREDENTIALS_KEY_FILE", None)
    return CredentialsKeyError(
        f"{what} cannot be decrypted with any configured credentials key. Set {KEY_SETTING} to the key "
        f"that encrypted it (several keys, comma-separated, are all tried; when {KEY_SETTING} is unset, "
        f"the key file {key_file} is used); every web and worker process needs the same keys."
    )


def encrypt(value: Any) -> str:
    """The token of `value`'s JSON, made with the first key."""
    first, _ = _keys()
    return first.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()


def decrypt(token: str, what: str = "A credentials value") -> Any:
    """The value in `token`; `what` names it in the error when no key opens it."""
    try:
        _, every = _keys()
        return json.loads(every.decrypt(token.encode()))
    except InvalidToken:
        raise _undecryptable(what) from None


def reencrypt(token: str, what: str = "A credentials value") -> str | None:
    """`token` made again with the first key, or None when the first key made it already."""
    first, every = _keys()
    try:
        first.decrypt(token.encode())
        return None
    except InvalidToken:
        pass
    try:
        return every.rotate(token.encode()).decode()
    except InvalidToken:
        raise _undecryptable(what) from None


@dataclass(frozen=True)
class Sealed:
    """A token as read from the database, not yet decrypted."""

    token: str
    what: str = "A credentials value"

    def open(self) -> Any:
        return decrypt(self.token, self.what)

    def __repr__(self) -> str:
        return f"<Sealed {self.what}>"


class _DecryptOnRead(DeferredAttribute):
    """The field's attribute: decrypts the loaded token on first read and keeps the value."""

    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)  # loads the column if it was deferred
        if isinstance(value, Sealed):
            value = decrypt(value.token, f"{value.what} of row {instance.pk}")
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value) -> None:  # a data descriptor, so that reads always pass __get__
        instance.__dict__[self.field.attname] = value


class EncryptedJSONField(models.TextField):
    """A JSON value (a dict of credentials) stored as a Fernet token in a text column."""

    description = "A JSON value, stored encrypted"
    descriptor_class = _DecryptOnRead

    def _what(self) -> str:
        return f"{self.model.__name__}.{self.name}"

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value, self._what())

    def to_python(self, value):
        if isinstance(value, str):  # a token, as `dumpdata` writes it
            return Sealed(value, self._what())
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.token
        return encrypt(value)

    def pre_save(self, model_instance, add):
        # The raw attribute: a value never read is saved as the token it was, not decrypted and
        # encrypted again (and not refused when the key is wrong).
        if self.attname in model_instance.__dict__:
            return model_instance.__dict__[self.attname]
        return super().pre_save(model_instance, add)

    def value_to_string(self, obj) -> str:  # serialisers (`dumpdata`) write the token, never the secret
        return self.get_prep_value(self.pre_save(obj, add=False))


def encrypted_fields() -> list[EncryptedJSONField]:
    """Every encrypted column of every installed model."""
    return [
        field
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedJSONField)
    ]


def check_credentials_key() -> None:
    """Refuse to go on (`CredentialsKeyError`) when the configured keys cannot read the credentials
    the database holds: one stored token of each encrypted column is opened. A web or worker process
    started with the wrong key would otherwise run, and fail every cloud call it made. A database
    that cannot be read yet (not migrated, unreachable) is left to the process to find out."""
    from django.db import DatabaseError

    for field in encrypted_fields():
        model = field.model
        try:
            token = model._default_manager.values_list(field.attname, flat=True).order_by("pk").first()
        except DatabaseError:
            return
        if token is not None:
            sealed = token if isinstance(token, Sealed) else Sealed(str(token), field._what())
            if not isinstance(sealed.token, str) or _is_clear(sealed.token):
                continue
            try:
                _, every = _keys()
                every.decrypt(sealed.token.encode())
            except InvalidToken:
                raise CredentialsKeyError(
                    f"The credentials in the database ({field._what()}) cannot be read with the "
                    f"configured key: this process would fail every cloud call. {_undecryptable('They').args[0]}"
                ) from None


# Data migrations. They run while the column is still a plain text field, so they see raw text.


def _is_clear(text: str) -> bool:
    if not text:
        return True
    try:
        json.loads(text)  # a Fernet token is never JSON
    except ValueError:
        return False
    return True


def encrypt_column(model, field: str, using: str) -> None:
    """Encrypt every row of `model` whose `field` still holds clear JSON text."""
    for pk, text in model.objects.using(using).values_list("pk", field):
        if _is_clear(text):
            value = json.loads(text) if text else {}
            model.objects.using(using).filter(pk=pk).update(**{field: encrypt(value)})


def decrypt_column(model, field: str, using: str) -> None:
    """Write every encrypted row of `model`'s `field` back as clear JSON text (to undo `encrypt_column`)."""
    for pk, text in model.objects.using(using).values_list("pk", field):
        if not _is_clear(text):
            value = decrypt(text, f"{model.__name__}.{field} of row {pk}")
            model.objects.using(using).filter(pk=pk).update(**{field: json.dumps(value)})
