from django.db import migrations

TABLES = ["billing_ratelimitlock", "billing_ratelimithit", "billing_ratelimitslot"]


def unlogged(apps, schema_editor):
    # Rate-limit rows are bookkeeping of the last minute: no WAL for them on PostgreSQL
    # (they are emptied after a crash, which only forgets the last minute's counts).
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET UNLOGGED")


def logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_ratelimit_tables")]

    operations = [migrations.RunPython(unlogged, logged)]
