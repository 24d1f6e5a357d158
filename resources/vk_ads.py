"""VK Ads as a Dagster resource (key `vk_ads`): the live API, the demo server, or skipped.

`.endpoint()` yields a `VKAdsEndpoint` for a run, or None when VK_ADS_TOKEN is unset outside demo
mode. VK Ads statistics carry no currency: VK_ADS_CURRENCY (default RUB) names the account's.
The token is a secret (VK_ADS_TOKEN, read at run time, never in the UI), never logged.
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
class VKAdsEndpoint:
    base_url: str
    token: str = field(repr=False)
    currency: str
    start_date: date
    end_date: date | None
    lookback_days: int


class VKAds(ConfigurableResource):
    """Resource key `vk_ads`."""

    token: str | None = None
    api_url: str | None = None
    currency: str | None = None
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None

    @contextlib.contextmanager
    def endpoint(self) -> Iterator[VKAdsEndpoint | None]:
        settings = load_settings()
        token = self.token or (settings.vk_ads_token.get_secret_value() if settings.vk_ads_token else None)
        currency = (self.currency or settings.vk_ads_currency).upper()
        if token:
            start = settings.ingest_start
            yield VKAdsEndpoint(
                self.api_url or settings.vk_ads_api_url,
                token,
                currency,
                start,
                settings.today,
                settings.ads_lookback_days,
            )
            return
        if not settings.demo_mode:
            yield None
            return
        world = demo_world_dir(self)
        first, last = world_dates(world)
        with serve_demo_ads(world) as portal:
            yield VKAdsEndpoint(portal.url, portal.vk_token, currency, first, last, settings.ads_lookback_days)
