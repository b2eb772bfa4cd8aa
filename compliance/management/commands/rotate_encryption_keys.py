from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from config import crypto
from config.fields import encrypted_fields


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS. "
        "Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = encrypted_fields(model)
            if not fields:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            for field in fields:
                col = connection.ops.quote_name(field.column)
                with transaction.atomic(), connection.cursor() as cursor:
                    # Raw SQL on purpose: the stored ciphertext is rotated without ever
                    # going through from_db_value (plain text never leaves this loop).
                    cursor.execute(f"SELECT {pk}, {col} FROM {table} WHERE {col} <> ''")
                    rows = cursor.fetchall()
                    for row_pk, stored in rows:
                        cursor.execute(
                            f"UPDATE {table} SET {col} = %s WHERE {pk} = %s",
                            [crypto.rotate(stored), row_pk],
                        )
                    total += len(rows)
                self.stdout.write(f"{model._meta.label}.{field.name}: {len(rows)} re-encrypted")
        self.stdout.write(f"done: {total} values re-encrypted with the first key")
