
# Appended to the project's settings.py by test/clients/outbox-sdk.test.ts: the database the
# outbox snippet writes to, from the OUTBOX_* variables. Django's MySQL backend wants mysqlclient;
# Debian's python3-pymysql stands in for it the way PyMySQL documents (install_as_MySQLdb).
import os as _os

if _os.environ["OUTBOX_KIND"] == "mysql":
    import pymysql

    pymysql.install_as_MySQLdb()

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends." + ("mysql" if _os.environ["OUTBOX_KIND"] == "mysql" else "postgresql"),
        "HOST": _os.environ["OUTBOX_HOST"],
        "PORT": _os.environ["OUTBOX_PORT"],
        "NAME": _os.environ["OUTBOX_DB"],
        "USER": _os.environ["OUTBOX_USER"],
        "PASSWORD": _os.environ["OUTBOX_PASS"],
    }
}
