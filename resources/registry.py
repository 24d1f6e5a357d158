"""One place decides the environment: which resource instances the definitions get.

Called when the definitions load (not at import). Secrets are handed over as `EnvVar`s so Dagster
reads them at run time and hides them in the UI; unset ones stay unset and the resources fall back
to their embedded-default behaviour (demo portal, template insights, no Telegram).
"""
from __future__ import annotations

import os
from typing import Any

from dagster import EnvVar
from dagster_dlt import DagsterDltResource

from resources.amocrm import AmoCRMAccount
from resources.bitrix24 import Bitrix24Portal
from resources.cbr import CBRRates
from resources.direct import YandexDirect
from resources.export_folders import OneCExport, TelephonyExport
from resources.vk_ads import VKAds
from resources.crm_export import CrmExport
from resources.evidence import EvidenceCLI
from resources.llm import InsightWriter
from resources.settings import Settings
from resources.source_files import PlanSheet
from resources.telegram import TelegramNotifier
from resources.warehouse import Warehouse


def _secret(name: str) -> Any:
    """EnvVar when the variable is set (value hidden in the UI), else None (feature off)."""
    return EnvVar(name) if os.environ.get(name, "").strip() else None


def build_resources(settings: Settings) -> dict[str, Any]:
    from assets.transform import dbt_cli_resource  # the dbt resource is built where the project lives

    warehouse_url = EnvVar("WAREHOUSE_URL") if settings.warehouse_url else settings.warehouse
    return {
        "warehouse": Warehouse(url=warehouse_url),
        "bitrix24": Bitrix24Portal(webhook_url=_secret("BITRIX24_WEBHOOK_URL")),
        "plan_sheet": PlanSheet(),
        "cbr": CBRRates(),
        "direct": YandexDirect(token=_secret("DIRECT_TOKEN")),
        "vk_ads": VKAds(token=_secret("VK_ADS_TOKEN")),
        "onec": OneCExport(),
        "telephony": TelephonyExport(phone_hash_salt=_secret("PHONE_HASH_SALT")),
        "amocrm": AmoCRMAccount(access_token=_secret("AMOCRM_ACCESS_TOKEN")),
        "crm_export": CrmExport(),
        "dlt": DagsterDltResource(),
        "dbt": dbt_cli_resource(),
        "llm": InsightWriter(api_key=_secret("OPENAI_API_KEY")),
        "telegram": TelegramNotifier(bot_token=_secret("TELEGRAM_BOT_TOKEN")),
        # The site is a product of the run, like the warehouse: it is published under DATA_DIR.
        "evidence": EvidenceCLI(build_dir=str((settings.data_dir / "site").resolve())),
    }
