"""Test settings: the production settings with a few changes for speed only."""

from soro_web.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks enqueued by services run in-process in ordinary tests; tests about the worker start a
# real worker process (tests/soro_web/test_worker.py), on the embedded transport by default
# and on Redis when CI sets CELERY_BROKER_URL (.ci/run runs the suite both ways).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# A file (not in-memory) test database, so a real worker process started by a test can share
# it. pytest-django gives each xdist worker its own copy.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"soro-test-{os.getpid()}.sqlite3")  # noqa: F405
    }

# WhiteNoise warns when STATIC_ROOT is missing; tests serve from the finders instead.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
