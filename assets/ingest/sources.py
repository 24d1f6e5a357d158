"""Which of the nine sources a company has: the one rule that decides what joins the Dagster graph.

A real company has some of the sources, not all. A source that is not configured is absent from the
graph (its dbt staging builds empty), never a skipped step: Dagster skips every step downstream of a
skipped output, so "not configured" must not look like "skipped" to the warehouse. In demo mode (no
CRM configured) every source is served by the embedded demo world. Outside demo mode nothing of the
demo world is used: the plan sheet, the ads, 1C and telephony join only when their setting is set.
The CBR needs no credentials, so it joins by default; in a closed network `CBR_RATES_FILE` reads the
rates from a file instead, and `CBR_API_URL=off` (with no file) removes it: rubles only.
"""

from __future__ import annotations

from dataclasses import dataclass

from resources.settings import Settings


@dataclass(frozen=True)
class Source:
    name: str  # the `source` tag of its assets
    title: str  # how people call it
    setting: str  # what turns it on outside demo mode
    table: str  # its main raw table, where its `source_refreshed` check sits


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("bitrix24", "Bitrix24", "BITRIX24_WEBHOOK_URL", "deals"),
        Source("amocrm", "amoCRM", "AMOCRM_BASE_URL", "leads"),
        Source("export", "CRM export files", "CRM_EXPORT_DIR", "deals"),
        Source("plan", "plan sheet", "PLAN_FILE", "plan"),
        Source("cbr", "CBR rates", "CBR_API_URL (on unless 'off') or CBR_RATES_FILE", "rates"),
        Source("direct", "Yandex.Direct", "DIRECT_TOKEN", "campaign_stats"),
        Source("vk", "VK Ads", "VK_ADS_TOKEN", "campaign_stats"),
        Source("onec", "1C payments", "ONEC_EXPORT_DIR", "payments"),
        Source("telephony", "telephony", "TELEPHONY_EXPORT_DIR", "calls"),
    )
}


def configured_sources(settings: Settings) -> list[str]:
    """The sources of this company, in SOURCES order."""
    demo = settings.demo_mode
    on = {
        "bitrix24": settings.bitrix24_webhook_url is not None or demo,
        "amocrm": bool(settings.amocrm_base_url),
        "export": settings.crm_export_dir is not None,
        "plan": settings.plan_file is not None or demo,
        "cbr": settings.cbr_rates_file is not None or not settings.cbr_disabled,
        "direct": settings.direct_token is not None or demo,
        "vk": settings.vk_ads_token is not None or demo,
        "onec": settings.onec_export_dir is not None or demo,
        "telephony": settings.telephony_export_dir is not None or demo,
    }
    return [name for name in SOURCES if on[name]]


class SourceNotConfigured(RuntimeError):
    """A source's assets run while its setting is unset (the definitions were loaded with other settings)."""

    def __init__(self, source: str) -> None:
        s = SOURCES[source]
        super().__init__(
            f"{s.title} is not configured ({s.setting} unset) but its assets are in this run: "
            "reload the definitions after changing the settings"
        )
