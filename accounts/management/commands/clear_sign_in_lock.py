from django.core.management.base import BaseCommand, CommandError

from accounts.throttle import login_failures_clear


class Command(BaseCommand):
    help = (
        "Forget the failed sign-ins counted for an e-mail address and/or a client network "
        "(as the limit sees it: an IPv4 address, or an IPv6 /64 such as 2001:db8:1:2::/64), "
        "so that they may sign in again before the window ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", default="", help="the address as typed")
        parser.add_argument("--network", default="", help="a client network")

    def handle(self, *args, email: str = "", network: str = "", **options):
        if not email and not network:
            raise CommandError("Give an e-mail address, --network, or both.")
        try:
            login_failures_clear(email=email, network=network)
        except Exception as error:  # noqa: BLE001 - any cache backend's failure
            raise CommandError(f"The shared cache cannot be reached: {error}") from error
