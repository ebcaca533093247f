
# Appended to settings.py after the doc's block by test/clients/django-snippets.test.ts: the
# in-process test client's host name.
ALLOWED_HOSTS = ["testserver"]
