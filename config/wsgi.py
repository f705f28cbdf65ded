import os

from django.core.wsgi import get_wsgi_application

from config.drain import with_body_drained

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Unread request bodies are read to the end, so keep-alive connections stay usable.
application = with_body_drained(get_wsgi_application())
