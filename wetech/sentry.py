"""Sentry set-up: only when SENTRY_DSN is set, PII off, every event scrubbed before it leaves."""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

from wetech.redaction import scrub_sentry_event

# Probes hit every few seconds; tracing them would drown real traffic and cost quota.
_UNTRACED_PREFIXES = ("/health/", "/static/")


def traces_sampler(sampling_context, *, rate: float) -> float:
    path = (sampling_context.get("wsgi_environ") or {}).get("PATH_INFO", "")
    if path.startswith(_UNTRACED_PREFIXES):
        return 0.0
    return rate


def init_sentry(
    *, dsn: str, environment: str, release: str, traces_sample_rate: float, transport=None
) -> None:
    # `transport` is for tests: one that keeps envelopes instead of sending them.
    options = {"transport": transport} if transport is not None else {}
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        # Request bodies hold what visitors type (names, emails, phones, messages): never read.
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub_sentry_event,
        before_send_transaction=scrub_sentry_event,
        traces_sampler=lambda ctx: traces_sampler(ctx, rate=traces_sample_rate),
        **options,
    )
