"""The Bitrix24 portal as a Dagster resource: a live webhook URL, or the demo portal serving the demo world.

`.webhook()` is a context manager yielding the webhook base URL for the duration of a run. With
BITRIX24_WEBHOOK_URL (or the `webhook_url` field) set it yields that; otherwise it generates the demo
world if needed and serves it with `demo.portal.DemoPortal` on 127.0.0.1 until the block ends, so
the same extraction code runs in both modes. The URL holds a secret code: leave the field unset so it is
read from BITRIX24_WEBHOOK_URL at run time (never in the UI), or configure it with an `EnvVar`.
The demo portal enforces Bitrix24's request limit (2/s, bursts to 50) unless `demo_rate_limit` is off.
`.phone_salt()` is the secret the calls' client numbers are hashed with on arrival (PHONE_HASH_SALT;
the demo salt in demo mode, the same one the demo telephony export is hashed with).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dagster import ConfigurableResource

from resources.http import RetryingSession, RetryPolicy
from resources.settings import load_settings
from resources.source_files import ensure_demo_world


class Bitrix24WriteError(RuntimeError):
    """The portal refused a write (its error code and description; never the webhook's secret)."""


class Bitrix24Portal(ConfigurableResource):
    """Resource key `bitrix24`."""

    webhook_url: str | None = None
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None
    demo_rate_limit: bool = True

    def configured_url(self) -> str | None:
        """The live webhook URL, if any (field first, then BITRIX24_WEBHOOK_URL)."""
        if self.webhook_url:
            return self.webhook_url
        secret = load_settings().bitrix24_webhook_url
        return secret.get_secret_value() if secret else None

    @property
    def is_demo(self) -> bool:
        return self.configured_url() is None

    def phone_salt(self) -> str | None:
        settings = load_settings()
        if settings.phone_hash_salt:
            return settings.phone_hash_salt.get_secret_value()
        if self.is_demo:
            from resources.export_folders import DEMO_PHONE_SALT

            return DEMO_PHONE_SALT
        return None

    @contextlib.contextmanager
    def webhook(self) -> Iterator[str]:
        """Yield a webhook base URL usable for the whole block (the demo portal stops after it)."""
        url = self.configured_url()
        if url:
            yield url
            return
        from demo.portal import DemoPortal  # only needed in demo mode

        world_dir = ensure_demo_world(self.demo_dir, self.demo_size, self.demo_today, self.demo_seed)
        portal = DemoPortal(world_dir) if self.demo_rate_limit else DemoPortal(world_dir, rate_limit=None)
        demo_url = portal.start()
        try:
            yield demo_url
        finally:
            portal.stop()

    def update_deal(self, deal_id: str, fields: dict[str, Any]) -> None:
        """`crm.deal.update` of one deal (an alert's action button). Raises Bitrix24WriteError when refused.

        Network errors, 5xx and QUERY_LIMIT_EXCEEDED are retried (resources/http.py); logs name the
        method only, never the webhook URL with its secret."""
        with self.webhook() as url:
            session = RetryingSession(
                "Bitrix24", policy=RetryPolicy(max_attempts=3), timeout=(10.0, 30.0), describe=_method_only
            )
            with session:
                response = session.post(
                    url.rstrip("/") + "/crm.deal.update.json", json={"id": deal_id, "fields": fields}
                )
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            if response.status_code != 200 or answer.get("result") is not True:
                code = answer.get("error") or response.status_code
                raise Bitrix24WriteError(
                    f"crm.deal.update of deal {deal_id}: {code} {answer.get('error_description', '')}".strip()
                )


def _method_only(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
