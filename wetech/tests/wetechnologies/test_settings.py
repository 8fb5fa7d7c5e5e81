"""The settings rules: secret required, DATABASE_URL parsing, cache switch, deploy check clean.

Settings are read once at import, so each rule is checked in a fresh interpreter with its own
environment, the way a server would start.
"""

import json

import pytest

from wetech.tests.conftest import run_django

PRINT = (
    "from django.conf import settings as s; import json; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), "
    "'options': db.get('OPTIONS', {}), 'conn_max_age': db.get('CONN_MAX_AGE'), "
    "'host': db.get('HOST'), 'port': db.get('PORT'), "
    "'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG, "
    "'ssl_redirect': getattr(s, 'SECURE_SSL_REDIRECT', False), 'hsts': s.SECURE_HSTS_SECONDS}))"
)

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "production-like-secret-with-enough-entropy-1234567890",
    "ALLOWED_HOSTS": "wetech.co.tz",
    "SECURE_SSL_REDIRECT": "true",
    "STATIC_MANIFEST": "true",
    # Production queues on Redis (the embedded queue is what W001 warns about).
    "TASK_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def settings_of(env):
    result = run_django("shell", "-c", PRINT, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_missing_secret_key_with_debug_off_fails_with_one_clear_sentence():
    result = run_django("check", env={"DEBUG": "false", "SECRET_KEY": None})

    assert result.returncode != 0
    assert "SECRET_KEY is not set: set it in the environment or in .env" in result.stderr
    assert "Traceback" in result.stderr  # Django's ImproperlyConfigured, not a silent default


def test_debug_may_run_without_secret_key():
    result = run_django("check", env={"DEBUG": "true", "SECRET_KEY": None})

    assert result.returncode == 0, result.stderr


def test_debug_defaults_to_off():
    values = settings_of({"DEBUG": None, "SECRET_KEY": "x" * 50})

    assert values["debug"] is False


def test_sqlite_is_the_default_with_wal_and_a_busy_timeout():
    values = settings_of({"DATABASE_URL": None})

    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("/db.sqlite3")
    assert "journal_mode=WAL" in values["options"]["init_command"]
    assert values["options"]["timeout"] == 20
    assert values["options"]["transaction_mode"] == "IMMEDIATE"


def test_database_url_switches_to_postgresql_with_pooling_and_connect_timeout():
    values = settings_of({"DATABASE_URL": "postgres://shop:pw@db.internal:6543/wetech"})

    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "wetech"
    assert values["host"] == "db.internal"
    assert values["port"] == 6543
    assert values["conn_max_age"] == 60
    assert values["options"]["connect_timeout"] == 5


def test_redis_url_switches_the_cache_backend():
    assert settings_of({"REDIS_URL": None})["cache"].endswith("LocMemCache")
    # Django's Redis backend, through wetech/cache.py (one client per connection pool).
    assert (
        settings_of({"REDIS_URL": "redis://127.0.0.1:6379/3"})["cache"]
        == "wetech.cache.PooledRedisCache"
    )


def test_production_like_environment_turns_on_transport_security():
    values = settings_of(PRODUCTION_ENV)

    assert values["ssl_redirect"] is True
    assert values["hsts"] == 31536000


def test_check_deploy_reports_no_warnings_in_a_production_like_environment():
    result = run_django("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_about_the_embedded_task_queue():
    env = {**PRODUCTION_ENV, "TASK_BROKER_URL": None, "REDIS_URL": None}
    result = run_django("check", "--deploy", env=env)

    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert "(wetech.W001) The background worker's queue is the embedded SQLite file" in (
        result.stderr + result.stdout
    )


BROKER = (
    "from django.conf import settings as s; from huey.contrib.djhuey import HUEY; "
    "print(s.TASK_BROKER_URL, type(HUEY).__name__, getattr(HUEY.storage, 'filename', '-'))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "{sqlite} SqliteHuey {file}"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/9"}, "redis://127.0.0.1:6379/9 RedisHuey -"),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/9", "TASK_BROKER_URL": "redis://10.0.0.2/1"},
            "redis://10.0.0.2/1 RedisHuey -",
        ),
    ],
)
def test_the_task_queue_follows_task_broker_url_then_redis_url(env, expected):
    from django.conf import settings

    file = settings.BASE_DIR / "var" / "huey.sqlite3"
    result = run_django(
        "shell",
        "-c",
        BROKER,
        env={"DEBUG": "true", "TASK_BROKER_URL": None, "REDIS_URL": None, **env},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected.format(
        sqlite=f"sqlite:///{file}", file=file
    )


def test_dev_server_checks_pass_without_redis():
    result = run_django("check", env={"REDIS_URL": None, "DEBUG": "true"})

    assert result.returncode == 0, result.stderr
    assert "django_ratelimit" not in result.stdout + result.stderr


# --- the AzamPay callback's guards and the simulators' switch (issue 10, section 2) ---------------

CALLBACK_URL = (
    "from wetech.callback_auth import azampay_callback_url; "
    "from django.conf import settings as s; "
    "print(azampay_callback_url(), [str(n) for n in s.AZAMPAY_CALLBACK_ALLOWED_NETWORKS])"
)
LONG_SECRET = "registered-callback-secret-0123456789abcdef"


@pytest.mark.parametrize(
    "secret", ["only-thirty-one-characters-long", f"{LONG_SECRET},older-but-short"]
)
def test_a_short_azampay_callback_secret_stops_start_up_with_one_clear_sentence(secret):
    result = run_django("check", env={"DEBUG": "true", "AZAMPAY_CALLBACK_SECRET": secret})

    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: AZAMPAY_CALLBACK_SECRET must be at least 32 characters"
        in result.stderr
    )
    assert "older-but-short" not in result.stderr
    assert "only-thirty-one" not in result.stderr


def test_a_rotation_list_of_long_secrets_starts_and_registers_the_first():
    result = run_django(
        "shell",
        "-c",
        CALLBACK_URL,
        env={
            "DEBUG": "true",
            "SITE_URL": "https://wetech.co.tz",
            "AZAMPAY_CALLBACK_SECRET": f"{LONG_SECRET},older-callback-secret-0123456789abcdef",
            "AZAMPAY_CALLBACK_ALLOWED_NETWORKS": "196.46.10.0/24, 2001:db8:aa::/48",
        },
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"https://wetech.co.tz/payments/azampay/callback/{LONG_SECRET}/ "
        "['196.46.10.0/24', '2001:db8:aa::/48']"
    )


@pytest.mark.parametrize("networks", ["196.46.10.0/24,196.46.10.7/16", "azampay.co.tz"])
def test_an_invalid_allowed_network_stops_start_up(networks):
    result = run_django(
        "check", env={"DEBUG": "true", "AZAMPAY_CALLBACK_ALLOWED_NETWORKS": networks}
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: AZAMPAY_CALLBACK_ALLOWED_NETWORKS holds '" in result.stderr
    assert "which is not a valid network in CIDR notation" in result.stderr


def test_the_simulators_with_debug_off_fail_the_system_checks():
    result = run_django("check", env={**PRODUCTION_ENV, "GATEWAY_SIMULATOR": "true"})

    assert result.returncode != 0
    assert "(wetech.E001) GATEWAY_SIMULATOR is on while DEBUG is off" in result.stderr


def test_runserver_refuses_to_start_the_simulators_with_debug_off():
    result = run_django(
        "runserver",
        "--noreload",
        "127.0.0.1:0",
        env={**PRODUCTION_ENV, "GATEWAY_SIMULATOR": "true"},
        timeout=60,
    )

    assert result.returncode != 0
    assert "(wetech.E001)" in result.stderr


def test_make_run_keeps_the_simulators_with_debug_on():
    result = run_django("check", env={"DEBUG": "true", "GATEWAY_SIMULATOR": "true"})

    assert result.returncode == 0, result.stderr


COMPANY = (
    "from django.conf import settings as s; import json; "
    "print(json.dumps([s.COMPANY_NAME, s.COMPANY_ADDRESS, s.COMPANY_EMAIL, s.COMPANY_PHONE, "
    "s.COMPANY_TIN, s.COMPANY_VRN]))"
)
COMPANY_VARIABLES = ["COMPANY_NAME", "COMPANY_ADDRESS", "COMPANY_EMAIL", "COMPANY_PHONE"]
COMPANY_VARIABLES += ["COMPANY_TIN", "COMPANY_VRN"]


def company_of(env):
    result = run_django("shell", "-c", COMPANY, env={"DEBUG": "true", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_company_defaults_to_wetechs_demo_details():
    assert company_of(dict.fromkeys(COMPANY_VARIABLES)) == [
        "WeTech Ltd",
        "Mikocheni, Dar es Salaam, Tanzania",
        "hello@wetech.co.tz",
        "+255 22 200 0000",
        "123-456-789",
        "40-012345-A",
    ]


def test_the_company_comes_from_the_environment_with_its_tax_numbers_as_printed():
    values = company_of(
        {
            "COMPANY_NAME": "Kilimo Digital Ltd",
            "COMPANY_ADDRESS": "Plot 7, Old Moshi Road, Arusha",
            "COMPANY_EMAIL": "info@kilimo.example",
            "COMPANY_PHONE": "+255 27 250 0000",
            "COMPANY_TIN": "100 200 300",
            "COMPANY_VRN": "10 098765 z",
        }
    )

    assert values == [
        "Kilimo Digital Ltd",
        "Plot 7, Old Moshi Road, Arusha",
        "info@kilimo.example",
        "+255 27 250 0000",
        "100-200-300",
        "10-098765-Z",
    ]


def test_a_company_without_vat_registration_leaves_the_vrn_empty():
    assert company_of({"COMPANY_VRN": ""})[5] == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [("COMPANY_TIN", "12345678"), ("COMPANY_TIN", "123-456-78X"), ("COMPANY_VRN", "40-1234-A")],
)
def test_a_malformed_company_tax_number_stops_start_up(variable, value):
    result = run_django("check", env={"DEBUG": "true", variable: value})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}='{value}' is not valid: " in result.stderr


def test_env_example_lists_the_company_settings():
    from django.conf import settings

    listed = (settings.BASE_DIR / ".env.example").read_text()
    for variable in COMPANY_VARIABLES:
        assert f"\n{variable}=" in listed
