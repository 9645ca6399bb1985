"""Settings, each defined once here with its default, its type and what it does.

Service settings reach the app as `app.config[KEY]`: defaults < SOULSYNC_<KEY> environment
variables < the mapping given to `create_app()`. Server settings are read by gunicorn.conf.py.
The settings table in docs/configuration.md and `.env.example` are generated from this list
(`make settings`; a test fails while either is stale).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from soulsync import texts
from soulsync.contacts import CONTACT_SHAPE, read_contacts
from soulsync.setting_values import (
    LOG_LEVELS,
    Setting,
    comma_list,
    log_level,
    origins,
    port,
    positive_int,
)
from soulsync.translations import LANGUAGE_NAMES, LANGUAGES, SOURCE_LANGUAGE

ENV_PREFIX = "SOULSYNC_"

API_KEY_HEADER = "X-API-Key"
#: Open without a key: the platform's probes, liveness for clients, and the documentation
#: (which holds no data).
OPEN_PATHS = ("/health", "/healthz", "/readyz", "/docs", "/reference", "/openapi.json")
#: What only operators read: the collector's scrape and the drift figures. With a metrics port
#: (as in the container image) they answer there alone, on loopback, without a key, and the
#: service's port answers 404: no client of the screening endpoints reads a drift figure.
OPERATOR_PATHS = ("/metrics", "/monitoring")


def on_metrics_port(settings: Mapping[str, Any], environ: Mapping[str, Any]) -> bool:
    """Whether a request came in on the service's own metrics port (none: never)."""
    port = settings["METRICS_PORT"]
    return bool(port) and environ.get("SERVER_PORT") == str(port)


#: A batch's body may hold this many bytes per questionnaire allowed (the longest questionnaire,
#: written with labels, is a few hundred).
BATCH_BYTES_PER_QUESTIONNAIRE = 1024
#: The API-key rule as every page states it.
KEY_RULE = (
    f"When the service runs with API keys, every request needs one in the {API_KEY_HEADER} "
    f"header, except {', '.join(OPEN_PATHS)} and, on the metrics port only, "
    f"{' and '.join(OPERATOR_PATHS)}; "
    "without keys (the default) no request needs one."
)


class ConfigError(ValueError):
    """A setting whose value cannot be read, or settings that do not go together; the message
    names each variable."""


def support_keys(language: str) -> tuple[str, str]:
    """The app.config keys of the support block's message and contacts for replies in
    `language`: SUPPORT_MESSAGE and SUPPORT_CONTACTS for English, SUPPORT_MESSAGE_ID and
    SUPPORT_CONTACTS_ID for Indonesian (id), and so on."""
    suffix = "" if language == SOURCE_LANGUAGE else f"_{language.upper()}"
    return f"SUPPORT_MESSAGE{suffix}", f"SUPPORT_CONTACTS{suffix}"


def _service(key: str, default: Any, parse: Callable[[str], Any], help: str, **kw: Any) -> Setting:
    return Setting(ENV_PREFIX + key, default, parse, help, key=key, **kw)


SERVICE_SETTINGS: tuple[Setting, ...] = (
    _service(
        "MODEL_PATH",
        "",
        str,
        "Model file to serve: .tflite (LiteRT) or .keras/.h5 (needs the train extra). Its "
        "model_card.json is read from the same folder when it describes it.",
        shown="(empty: the shipped soulsync/model/model.tflite)",
    ),
    _service(
        "CORS_ORIGINS",
        [],
        origins,
        "Comma-separated origins a browser page may call the service from (CORS): "
        "https://app.example allows that origin; https://*.example.com allows its subdomains; "
        "* allows any; none (the default): no CORS at all, and none of its cost, since the "
        "service's caller is the app's backend, which needs none.",
        shown="none",
    ),
    _service(
        "LOG_LEVEL",
        "INFO",
        log_level,
        f"Log level of the service's own logger: {', '.join(LOG_LEVELS)}.",
    ),
    _service(
        "BATCH_LIMIT",
        500,
        positive_int,
        "Most questionnaires accepted by POST /predict/batch. A full batch costs a worker tens "
        "of milliseconds of CPU, which every other request of that worker waits for: raise it "
        "only with that in mind (docs/performance.md).",
    ),
    _service(
        "MAX_QUESTIONNAIRE_BYTES",
        4096,
        positive_int,
        "Largest body of one questionnaire (POST /predict, POST /prediction/) in bytes; a "
        "larger one gets 413. A batch may have "
        f"{BATCH_BYTES_PER_QUESTIONNAIRE:,} bytes per questionnaire of its limit.",
    ),
    _service(
        "MAX_CONTENT_LENGTH",
        1024 * 1024,
        positive_int,
        "Largest request body in bytes on any endpoint (each takes at most its own limit "
        "too); a larger one gets 413.",
    ),
    _service(
        "TOP_FACTORS",
        3,
        positive_int,
        "How many answers the reply lists as the score's top factors.",
    ),
    _service(
        "API_KEYS",
        [],
        comma_list,
        f"Comma-separated API keys (401 without a valid one). {KEY_RULE}",
    ),
    _service(
        "METRICS_PORT",
        0,
        port,
        "Port of /metrics and /monitoring, for operators. When set (the container image sets "
        "9090), gunicorn also listens on 127.0.0.1 at this port and both answer there only, "
        "where the platform's collector reaches them and clients cannot; 0 (a development "
        "server): both are on the service's port.",
    ),
    _service(
        "GCP_PROJECT",
        "",
        str,
        "Google Cloud project id, so that log lines link to Cloud Trace (X-Cloud-Trace-Context).",
    ),
    _service(
        "SUPPORT_MESSAGE",
        texts.SUPPORT_MESSAGE,
        str,
        "Text of the support block shown with a Depression result or suicidal thoughts (in "
        "replies in English). Set one of your own only with its twin for each other language "
        "(SOULSYNC_SUPPORT_MESSAGE_ID): without it the service does not start.",
    ),
    _service(
        "SUPPORT_CONTACTS",
        [dict(contact) for contact in texts.SUPPORT_CONTACTS],
        read_contacts,
        "Support contacts (in replies in English), most widely reachable first, as "
        f"{CONTACT_SHAPE}. `phone` is dialled as written (tel:), so digits only (spaces and "
        "dashes are dropped; a leading + for an international number); an extension is said in "
        "the name (call 119, then press 8). Contacts of your own need their twin for each other "
        "language (SOULSYNC_SUPPORT_CONTACTS_ID), or the service does not start. The default "
        f"numbers were last checked {texts.SUPPORT_CONTACTS_CHECKED}. The lead engineer, who "
        "releases the service, has someone in Indonesia place a test call to each number (and "
        "open each url) before the next release, before any release that changes them, and "
        "every three months (docs/runbook.md, Support contacts).",
    ),
    *(
        setting
        for language in LANGUAGES
        if language != SOURCE_LANGUAGE
        for setting in (
            _service(
                support_keys(language)[0],
                "",
                str,
                f"The support block's message in replies in {LANGUAGE_NAMES[language]}. "
                f"Empty: SOULSYNC_SUPPORT_MESSAGE's default in {LANGUAGE_NAMES[language]}, as "
                "the message catalog says it; required when SOULSYNC_SUPPORT_MESSAGE is set "
                "(a message of your own is not in the catalog).",
            ),
            _service(
                support_keys(language)[1],
                [],
                read_contacts,
                f"The support contacts in replies in {LANGUAGE_NAMES[language]}, as JSON like "
                "SOULSYNC_SUPPORT_CONTACTS. Empty: SOULSYNC_SUPPORT_CONTACTS's defaults, each "
                f"name as the message catalog says it in {LANGUAGE_NAMES[language]}; required "
                "when SOULSYNC_SUPPORT_CONTACTS is set.",
                shown="",
            ),
        )
    ),
)

SERVER_SETTINGS: tuple[Setting, ...] = (
    Setting("PORT", 8080, positive_int, "Port gunicorn serves on (Cloud Run sets it)."),
    Setting(
        "HOST",
        "0.0.0.0",
        str,
        "Address gunicorn serves on: every interface, as a container must; `make serve` sets "
        "127.0.0.1.",
    ),
    Setting(
        "WEB_CONCURRENCY",
        1,
        positive_int,
        "gunicorn worker processes: one per CPU (Cloud Run gives 1 by default).",
    ),
    Setting(
        "GUNICORN_WORKER_CONNECTIONS",
        1024,
        positive_int,
        "Connections one worker holds at once (each costs a greenlet and a file descriptor; "
        "start-up stops if the process may not open that many files). Beyond them, new "
        "connections wait in the kernel's queue.",
    ),
    Setting(
        "GUNICORN_TIMEOUT",
        30,
        positive_int,
        "Seconds a worker may stay silent before gunicorn restarts it.",
    ),
    Setting(
        "GUNICORN_GRACEFUL_TIMEOUT",
        6,
        positive_int,
        "Seconds requests in flight get to finish after SIGTERM: a worker has exited within "
        "about two more (Cloud Run kills 10 s after SIGTERM).",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        str,
        "Folder where the workers keep their metrics, so that /metrics sums them. Created if "
        "missing and emptied at start; when unset, a new temporary folder, removed at exit.",
        shown="(empty: a new temporary folder)",
    ),
)

SETTINGS = SERVICE_SETTINGS + SERVER_SETTINGS

#: Each service setting's default, by app.config key.
DEFAULTS: dict[str, Any] = {s.key: s.default for s in SERVICE_SETTINGS if s.key}


def _read(settings: tuple[Setting, ...], environ: Mapping[str, str] | None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    values = {}
    for setting in settings:
        raw = environ.get(setting.env)
        name = setting.key or setting.env
        if raw is None or raw.strip() == "":
            values[name] = setting.default
            continue
        try:
            values[name] = setting.parse(raw)
        except ValueError as error:
            raise ConfigError(f"{setting.env}: {error}") from error
    return values


def check_support(config: Mapping[str, Any]) -> None:
    """Refuse support settings that would put English inside another language's replies: an
    English support setting of one's own (other than its default) whose twin for a language
    is empty. Only the defaults are in the catalogs."""
    english = support_keys(SOURCE_LANGUAGE)
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        for own, twin in zip(english, support_keys(language), strict=True):
            if config[own] != DEFAULTS[own] and not config[twin]:
                raise ConfigError(
                    f"{ENV_PREFIX}{own} is set and {ENV_PREFIX}{twin} is not: replies in "
                    f"{LANGUAGE_NAMES[language]} would show it in English. Set "
                    f"{ENV_PREFIX}{twin} too, in {LANGUAGE_NAMES[language]}."
                )


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every service setting by app.config key, from SOULSYNC_<KEY> where set, else its default."""
    return _read(SERVICE_SETTINGS, environ)


def server_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every server setting by variable name, for gunicorn.conf.py."""
    return _read(SERVER_SETTINGS, environ)
