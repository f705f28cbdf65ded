"""Every saved or deleted key or tenant replaces the key epoch (keys/cache.py), so no
worker goes on trusting a cached copy of it. Bulk `update()` calls send no signal: the
services that make them call `epoch_bump` themselves."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Organization
from keys import cache as key_cache
from keys.models import ApiKey


@receiver(post_save, sender=ApiKey, dispatch_uid="keys_epoch_key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="keys_epoch_key_deleted")
@receiver(post_save, sender=Organization, dispatch_uid="keys_epoch_org_saved")
@receiver(post_delete, sender=Organization, dispatch_uid="keys_epoch_org_deleted")
def key_or_tenant_changed(sender, **kwargs) -> None:
    key_cache.epoch_bump()
