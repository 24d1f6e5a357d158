"""The CBR rates endpoint as a Dagster resource (key `cbr`): cbr.ru, CBR_API_URL, or the demo server.

`.endpoint()` yields a `CBREndpoint(base_url, start_date, end_date)` for a run. The CBR needs no
credentials, so outside demo mode it is on by default (CBR_API_URL overrides https://www.cbr.ru, and
CBR_API_URL=off removes the source in a closed network); in demo mode (no CRM configured, no
CBR_API_URL) the demo server serves the demo world's rates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import ConfigurableResource

from resources.ads_demo import demo_world_dir, serve_demo_ads, world_dates
from resources.settings import load_settings

CBR_PUBLIC_URL = "https://www.cbr.ru"


class CBRDisabled(RuntimeError):
    """CBR_API_URL=off while the CBR asset runs."""


@dataclass(frozen=True)
class CBREndpoint:
    base_url: str
    start_date: date
    end_date: date | None  # None -> tomorrow (the CBR publishes the next day's rate)
    rates_file: str | None = None  # CBR_RATES_FILE: rates from a file instead of the API (closed network)


class CBRRates(ConfigurableResource):
    """Resource key `cbr`."""

    api_url: str | None = None
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None

    @contextlib.contextmanager
    def endpoint(self) -> Iterator[CBREndpoint]:
        settings = load_settings()
        url = self.api_url or settings.cbr_api_url
        if not self.api_url and settings.cbr_rates_file is not None:
            yield CBREndpoint("file", settings.ingest_start, None, rates_file=str(settings.cbr_rates_file))
            return
        if not self.api_url and settings.cbr_disabled:
            raise CBRDisabled(
                "CBR_API_URL=off (no CBR rates: a closed network, rubles only), but the CBR asset "
                "is in this run: reload the definitions after changing the settings"
            )
        if url or not settings.demo_mode:
            start = settings.ingest_start
            yield CBREndpoint(url or CBR_PUBLIC_URL, start, None)
            return
        world = demo_world_dir(self)
        first, last = world_dates(world)
        with serve_demo_ads(world) as portal:
            yield CBREndpoint(portal.url, first - timedelta(days=30), last)
