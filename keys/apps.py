from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"

    def ready(self) -> None:
        from keys import signals  # noqa: F401  (connects the receivers)
