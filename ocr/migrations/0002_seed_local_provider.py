from django.db import migrations


def seed(apps, schema_editor):
    Provider = apps.get_model("ocr", "Provider")
    ProviderModel = apps.get_model("ocr", "ProviderModel")
    FeePolicy = apps.get_model("billing", "FeePolicy")
    local, _ = Provider.objects.get_or_create(
        slug="local",
        defaults={"kind": "local", "name": "Local engine (offline)", "priority": 1000, "timeout_s": 120},
    )
    ProviderModel.objects.get_or_create(
        provider=local, name="local/rapidocr", defaults={"per_page_micros": 1000}
    )
    ProviderModel.objects.get_or_create(
        provider=local, name="local/tesseract", defaults={"per_page_micros": 500}
    )
    if not FeePolicy.objects.filter(organization__isnull=True).exists():
        FeePolicy.objects.create(organization=None, percent_bp=550, fixed_micros=0)


class Migration(migrations.Migration):
    dependencies = [
        ("ocr", "0001_initial"),
        ("billing", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
