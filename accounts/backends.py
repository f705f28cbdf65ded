"""Sign-in by e-mail address, whatever its letter case.

Accounts are stored under the address in lower case (accounts/services.py user_create);
an account made before that may hold capitals, so the lookup ignores case either way.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not isinstance(username, str) or password is None:
            return None
        from accounts.services import user_by_email

        user_model = get_user_model()
        user = user_by_email(username)
        if user is None:
            user_model().set_password(password)  # the same time as a wrong password
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
