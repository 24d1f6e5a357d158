"""The settings contract (docs/ARCHITECTURE.md): every environment variable the product reads, in one place.

Read at run time (never at import time), so tests can set variables per test and Dagster
resources see the values of the process that runs them.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, SecretStr, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseModel):
    """Typed view of the environment. Secrets are SecretStr so they never print."""

    bitrix24_webhook_url: SecretStr | None = None
    amocrm_base_url: str | None = None
    amocrm_access_token: SecretStr | None = None
    crm_export_dir: Path | None = None
    crm_export_mapping: Path | None = None
    warehouse_url: str | None = None  # None -> duckdb file under data_dir (see `warehouse`)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o"
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_oncall_chat_id: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    company_timezone: str = "Europe/Moscow"
    # Embedded-default (demo) knobs; ignored once a CRM is configured.
    demo_size: Literal["S", "M", "L"] = "M"
    demo_today: date | None = None
    demo_seed: int = 42
    # DATA_DIR; unset -> data/ for the demo world, data/company/ once a CRM is configured, so the two
    # never share a warehouse, dlt state or site (see `_default_data_dir`).
    data_dir: Path = None  # type: ignore[assignment]  # filled by the validator below
    plan_file: Path | None = None
    # the public datasets (Maven CRM, Superstore, Olist) that `make load-dataset` and their tests read
    datasets_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets"
    # Issue 3's sources beyond the CRM (each: set -> live; unset -> demo in demo mode, skipped otherwise).
    direct_token: SecretStr | None = None
    direct_client_login: str | None = None
    direct_api_url: str = "https://api.direct.yandex.com"
    vk_ads_token: SecretStr | None = None
    vk_ads_api_url: str = "https://ads.vk.com"
    vk_ads_currency: str = "RUB"
    # None -> the demo server in demo mode, https://www.cbr.ru otherwise; "off" -> no CBR (closed network, rubles only)
    cbr_api_url: str | None = None
    cbr_rates_file: Path | None = None  # rates from a CSV/XLSX file instead of the API (a closed network)
    onec_export_dir: Path | None = None
    telephony_export_dir: Path | None = None
    phone_hash_salt: SecretStr | None = None
    ingest_start_date: date | None = None  # first load of dated sources (CBR, ads); default a year back
    ads_lookback_days: int = 7
    ingest_cursor_overlap_seconds: float = 60.0  # CRM cursors re-read this margin; merge dedups

    @field_validator("company_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:  # noqa: BLE001 - zoneinfo raises several types
            raise ValueError(f"COMPANY_TIMEZONE={value!r} is not an IANA time zone") from exc
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("duckdb:///") or value.startswith(("postgresql://", "postgres://"))):
            raise ValueError(
                f"WAREHOUSE_URL must start with duckdb:/// or postgresql://, got {value.split('://')[0]}://…"
            )
        return value

    @model_validator(mode="after")
    def _default_data_dir(self) -> "Settings":
        if self.data_dir is None:
            self.data_dir = PROJECT_ROOT / "data" if self.demo_mode else PROJECT_ROOT / "data" / "company"
        return self

    @property
    def warehouse(self) -> str:
        """WAREHOUSE_URL, defaulting to a DuckDB file in DATA_DIR."""
        return self.warehouse_url or f"duckdb:///{self.data_dir.resolve() / 'warehouse.duckdb'}"

    @property
    def today(self) -> date:
        """The run's "today": DEMO_TODAY in the demo world, else today in the company's time zone."""
        return self.demo_today or datetime.now(self.tz).date()

    @property
    def ingest_start(self) -> date:
        """First day of a first load of dated sources (CBR, ads): INGEST_START_DATE, else a year back."""
        return self.ingest_start_date or self.today - timedelta(days=365)

    @property
    def demo_mode(self) -> bool:
        """No CRM configured: the embedded demo world and its portal stand in."""
        return self.bitrix24_webhook_url is None and self.amocrm_base_url is None and self.crm_export_dir is None

    @property
    def cbr_disabled(self) -> bool:
        """CBR_API_URL=off: a closed network; amounts in foreign currency then have no ruble value."""
        return (self.cbr_api_url or "").strip().lower() in {"off", "none", "false", "0"}

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.company_timezone)

    @property
    def demo_dir(self) -> Path:
        """Where the demo world of this size/seed/today is written (a cache keyed by all three)."""
        return self.data_dir / "demo" / f"{self.demo_size}-{self.demo_seed}-{self.today.isoformat()}"


_ENV_NAMES = {name: name.upper() for name in Settings.model_fields}


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment; empty strings count as unset."""
    env = os.environ if environ is None else environ
    raw = {field: env[var] for field, var in _ENV_NAMES.items() if env.get(var, "").strip()}
    try:
        return Settings(**raw)
    except ValidationError as exc:
        # Name the variable and the rule, never echo the value: it may hold a password or token.
        problems = "; ".join(
            f"{_ENV_NAMES.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def _print_path(what: str) -> None:
    """`python -m resources.settings site|warehouse|datasets`: where the settings put things (for the Makefile)."""
    s = load_settings()
    paths = {"site": s.data_dir / "site", "warehouse": s.warehouse.removeprefix("duckdb:///"), "datasets": s.datasets_dir}
    print(paths[what])


if __name__ == "__main__":
    import sys

    _print_path(sys.argv[1])
