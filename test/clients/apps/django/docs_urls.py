
# Appended to urls.py by test/clients/django-snippets.test.ts: the doc's view at /push/token.
from myapp import views  # noqa: E402

urlpatterns += [path("push/token", views.push_token)]  # noqa: F821 - defined by urls.py above
