"""Django settings from the xenpair site config (`web:`): one config file for CLI and web."""

import os
import secrets
from pathlib import Path

from xenpair.config import load_config

CONFIG, CONFIG_PATH = load_config(os.environ.get("XENPAIR_CONFIG") or None)
WEB = CONFIG.web


def _private(p: Path) -> Path:
    if p.stat().st_mode & 0o077:
        raise RuntimeError(f"{p} is readable by others: chmod 600 it")
    return p


def _secret_key(path: str) -> str:
    """Made once (0600) on first use; a key readable by others would let them forge sessions."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return _private(p).read_text().strip()


def _databases(web) -> dict:
    if web.postgresql is None:
        # several workers and the web server write: wait for the lock, do not fail
        return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": web.database,
                            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"}}}
    pg = web.postgresql
    return {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": pg.name, "USER": pg.user,
                        "HOST": pg.host, "PORT": str(pg.port),
                        "PASSWORD": _private(Path(pg.password_file)).read_text().strip() if pg.password_file else "",
                        # claim() is one conditional UPDATE: READ COMMITTED (the default) is enough
                        "CONN_MAX_AGE": 60}}


SECRET_KEY = _secret_key(WEB.secret_key_file)
DEBUG = False
ALLOWED_HOSTS = list(WEB.allowed_hosts)
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "axes", "xenpair.web",
]
MIDDLEWARE = [
    # whitenoise: the admin's CSS from gunicorn itself (cacheable, compressed), no nginx alias needed
    "django.middleware.security.SecurityMiddleware", "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware", "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware", "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [{"NAME": f"django.contrib.auth.password_validation.{v}"} for v in (
    "UserAttributeSimilarityValidator", "CommonPasswordValidator", "NumericPasswordValidator")] + [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}}]
AXES_FAILURE_LIMIT = WEB.login_failures
AXES_COOLOFF_TIME = 1            # hours
AXES_CLIENT_IP_CALLABLE = "xenpair.web.client.client_address"     # behind nginx: the client's, not 127.0.0.1
ROOT_URLCONF = "xenpair.web.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = _databases(WEB)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
STATIC_ROOT = WEB.static_dir              # `xenpair web migrate` collects the admin's files here
STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# behind the site's TLS reverse proxy (docs/web.md)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Strict"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
