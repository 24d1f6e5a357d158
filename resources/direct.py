"""Yandex.Direct as a Dagster resource (key `direct`): the live Reports API, the demo server, or skipped.

`.endpoint()` yields a `DirectEndpoint` for a run, or None when Direct is not configured outside demo
mode (the asset then logs one line and skips). The token is a secret: left unset here it is
read from DIRECT_TOKEN at run time (never in the UI); it is never logged (the endpoint's repr masks it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from dagster import ConfigurableResource

from resources.ads_demo import demo_world_dir, serve_demo_ads, world_dates
from resources.settings import load_settings


@dataclass(frozen=True)
class DirectEndpoint:
    base_url: str
    token: str = field(repr=False)
    client_login: str | None
    start_date: date
    end_date: date | None
    lookback_days: int


class YandexDirect(ConfigurableResource):
    """Resource key `direct`."""

    token: str | None = None
    client_login: str | None = None
    api_url: str | None = None
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None
    demo_retry_in: int = 1  # the demo server's retryIn (seconds) for queued reports

    @contextlib.contextmanager
    def endpoint(self) -> Iterator[DirectEndpoint | None]:
        settings = load_settings()
        token = self.token or (settings.direct_token.get_secret_value() if settings.direct_token else None)
        login = self.client_login or settings.direct_client_login
        if token:
            start = settings.ingest_start
            yield DirectEndpoint(
                self.api_url or settings.direct_api_url, token, login, start, settings.today, settings.ads_lookback_days
            )
            return
        if not settings.demo_mode:
            yield None
            return
        world = demo_world_dir(self)
        first, last = world_dates(world)
        with serve_demo_ads(world, retry_in=self.demo_retry_in) as portal:
            yield DirectEndpoint(
                portal.url, portal.direct_token, portal.direct_login, first, last, settings.ads_lookback_days
            )
