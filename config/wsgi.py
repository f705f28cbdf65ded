import os

from django.core.wsgi import get_wsgi_application

from config.bodies import with_whole_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Chunked bodies get a length; unread bodies are read to the end (keep-alive stays usable).
application = with_whole_bodies(get_wsgi_application())
