"""The one Definitions object: every stage's assets, checks, schedules and sensors, plus resources.

`dagster dev` (workspace.yaml) and the CLI load `defs`; tests call `build_definitions()` after
setting their environment, so nothing about the environment is decided at import time. The
resources are composed here, beside the stages that use them, because the dbt resource is built
where the dbt project lives (assets/transform.py) and resources/ knows nothing of the assets.
"""

from __future__ import annotations

from typing import Any

from dagster import Definitions, EnvVar, in_process_executor
from dagster_dlt import DagsterDltResource

from resources.amocrm import AmoCRMAccount
from resources.bitrix24 import Bitrix24Portal
from resources.cbr import CBRRates
from resources.crm_export import CrmExport
from resources.direct import YandexDirect
from resources.evidence import EvidenceCLI
from resources.export_folders import OneCExport, TelephonyExport
from resources.llm import LLMClient
from resources.settings import Settings, load_settings
from resources.source_files import PlanSheet
from resources.telegram import TelegramNotifier
from resources.vk_ads import VKAds
from resources.warehouse import Warehouse


def build_resources(settings: Settings) -> dict[str, Any]:
    """Which resource instances the definitions get.

    Secrets (CRM webhook and tokens, ad tokens, the phone salt, the OpenAI key, the bot token) are not
    put in the resources' config: each resource reads them from the settings when a run uses it, so
    they never show in the UI and a value kept in .env works in any process. The warehouse URL is
    config the resource cannot do without; when set it is handed over as an EnvVar, hidden in the UI.
    """
    from assets.transform import dbt_cli_resource

    warehouse_url = EnvVar("WAREHOUSE_URL") if settings.warehouse_url else settings.warehouse
    return {
        "warehouse": Warehouse(url=warehouse_url),
        "bitrix24": Bitrix24Portal(),
        "plan_sheet": PlanSheet(),
        "cbr": CBRRates(),
        "direct": YandexDirect(),
        "vk_ads": VKAds(),
        "onec": OneCExport(),
        "telephony": TelephonyExport(),
        "amocrm": AmoCRMAccount(),
        "crm_export": CrmExport(),
        "dlt": DagsterDltResource(),
        "dbt": dbt_cli_resource(),
        "llm": LLMClient(),
        "telegram": TelegramNotifier(),
        # The site is a product of the run, like the warehouse: built and published under DATA_DIR.
        "evidence": EvidenceCLI(
            work_dir=str((settings.data_dir / "evidence").resolve()),
            build_dir=str((settings.data_dir / "site").resolve()),
        ),
    }


def build_definitions() -> Definitions:
    import schedules
    from assets import anomalies, forecast, ingest, insights, report, transform

    settings = load_settings()
    return Definitions.merge(
        ingest.build_defs(),
        transform.build_defs(),
        forecast.build_defs(),
        anomalies.build_defs(),
        insights.build_defs(),
        report.build_defs(),
        schedules.build_defs(),
        # In-process: one DuckDB writer at a time (dlt, dbt and the ML writers share one file).
        Definitions(resources=build_resources(settings), executor=in_process_executor),
    )


defs = build_definitions()
