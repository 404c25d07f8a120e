"""Django settings from the xenpair site config (`web:`): one config file for CLI and web."""

import os
import secrets
from pathlib import Path

from xenpair.config import load_config

CONFIG, CONFIG_PATH = load_config(os.environ.get("XENPAIR_CONFIG") or None)
WEB = CONFIG.web


def _secret_key(path: str) -> str:
    """Made once (0600) on first use; a key readable by others would let them forge sessions."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    if p.stat().st_mode & 0o077:
        raise RuntimeError(f"{p} is readable by others: chmod 600 it")
    return p.read_text().strip()


SECRET_KEY = _secret_key(WEB.secret_key_file)
DEBUG = False
ALLOWED_HOSTS = list(WEB.allowed_hosts)
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "axes", "xenpair.web",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware", "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware", "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware", "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AXES_FAILURE_LIMIT = WEB.login_failures
AXES_COOLOFF_TIME = 1            # hours
ROOT_URLCONF = "xenpair.web.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": WEB.database,
                         # several workers and the web server write: wait for the lock, do not fail
                         "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# behind the site's TLS reverse proxy (docs/web.md)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Strict"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
