"""Encrypt Tenant.credentials at rest (see cohort.core.encryption).

In three steps, so that the data step sees raw text: the JSON column becomes plain text (PostgreSQL
casts jsonb to its JSON text), each clear row is encrypted with the first configured key, then the
field becomes the encrypted one (same text column, no SQL). Reversed, each row is decrypted back to
JSON text and the column becomes JSON again.
"""

from django.db import migrations, models

import cohort.core.encryption


def encrypt(apps, schema_editor):
    model = apps.get_model("openstack", "Tenant")
    cohort.core.encryption.encrypt_column(model, "credentials", using=schema_editor.connection.alias)


def decrypt(apps, schema_editor):
    model = apps.get_model("openstack", "Tenant")
    cohort.core.encryption.decrypt_column(model, "credentials", using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("openstack", "0003_durable_intent"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tenant",
            name="credentials",
            field=models.TextField(blank=True, default="{}"),
        ),
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="tenant",
            name="credentials",
            field=cohort.core.encryption.EncryptedJSONField(blank=True, default=dict),
        ),
    ]
