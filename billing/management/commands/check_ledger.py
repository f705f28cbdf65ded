from django.core.management.base import BaseCommand, CommandError

from billing.money import micros_to_usd_str
from billing.selectors import ledger_differences


class Command(BaseCommand):
    help = "Recompute every balance from the ledger; report differences and exit 1 on any."

    def handle(self, *args, **options):
        differences = ledger_differences()
        for diff in differences:
            self.stdout.write(
                f"{diff.organization_slug}: {diff.problem} "
                f"(balance {micros_to_usd_str(diff.balance_micros)} USD, "
                f"ledger {micros_to_usd_str(diff.ledger_sum_micros)} USD)"
            )
        if differences:
            raise CommandError(f"{len(differences)} ledger difference(s)", returncode=1)
        self.stdout.write("ledger ok")
