"""The settings contract (docs/ARCHITECTURE.md): every environment variable the product reads, in one place.

pydantic-settings reads the process environment and, beneath it, the project's `.env` file (the
environment wins; an empty value counts as unset). Read at run time (never at import time, with the
one exception documented in assets/partitions.py), so tests can set variables per test and Dagster
resources see the values of the process that runs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = PROJECT_ROOT / ".env"

# The company's business-day time zone when COMPANY_TIMEZONE is unset: the one default every Python
# place uses (dbt_project.yml and the Makefile, which cannot import it, repeat it).
DEFAULT_TIMEZONE = "Europe/Moscow"

# CBR_API_URL values that switch the CBR source off (a closed network) instead of naming a server.
CBR_OFF_WORDS = frozenset({"off", "none", "false", "0"})

_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _http_url(value: str) -> str:
    """Fail at start on a URL that could never be reached; keep the text as written (no normalising)."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError("must be an http(s) URL such as https://host/path") from None
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]


def parse_action_users(value: str) -> dict[int, str]:
    """'123456789:7, 987654321:12' -> {123456789: '7', 987654321: '12'}; a malformed pair is an error naming it."""
    users: dict[int, str] = {}
    for pair in (p.strip() for p in value.split(",")):
        if not pair:
            continue
        tg, _, crm = pair.partition(":")
        if not tg.strip().isdigit() or not crm.strip().isdigit():
            raise ValueError(
                f"TELEGRAM_ACTION_USERS: {pair!r} is not telegram_user_id:crm_user_id (digits on both sides)"
            )
        users[int(tg)] = crm.strip()
    return users


class Settings(BaseSettings):
    """Typed view of the environment (and .env). Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        case_sensitive=False,
        # .env may also hold what other programs read (DAGSTER_PG_*, dbt's COMPANY_CRM ...)
        extra="ignore",
    )

    bitrix24_webhook_url: SecretStr | None = None
    amocrm_base_url: HttpUrlText | None = None
    amocrm_access_token: SecretStr | None = None
    crm_export_dir: Path | None = None
    crm_export_mapping: Path | None = None
    warehouse_url: str | None = None  # None -> duckdb file under data_dir (see `warehouse`)
    openai_api_key: SecretStr | None = None
    openai_base_url: HttpUrlText | None = None  # None -> the SDK's default (api.openai.com)
    openai_model: str = "gpt-4o"
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None  # the head of sales: digest and business alerts
    telegram_oncall_chat_id: str | None = None  # failed runs and failed data checks
    telegram_marketer_chat_id: str | None = None  # channel alerts (budget overrun) also go here when set
    telegram_api_url: HttpUrlText = "https://api.telegram.org"
    dagster_ui_url: HttpUrlText | None = (
        None  # e.g. http://dagster.company.local:3000: on-call messages link runs and assets
    )
    report_site_url: HttpUrlText | None = None  # the report site as its readers open it: the digest links it
    # Who may press action buttons: "telegram_user_id:crm_user_id,..." (the deal goes to that CRM user)
    telegram_action_users: str | None = None
    company_timezone: str = DEFAULT_TIMEZONE
    # the first as-of day of the ML partitions (forecast, anomalies, insights): backfilling from it
    # replays the forecasts as they would have been made; older history is training data only
    as_of_start_date: date = date(2024, 1, 1)
    # Embedded-default (demo) knobs; ignored once a CRM is configured.
    demo_size: Literal["S", "M", "L"] = "M"
    demo_today: date | None = None
    demo_seed: int = 42
    # DATA_DIR; unset -> data/ for the demo world, data/company/ once a CRM is configured, so the two
    # never share a warehouse, dlt state or site (see `_default_data_dir`).
    # None is only a placeholder: `_default_data_dir` replaces it, so every reader sees a Path.
    data_dir: Path = Field(default=cast(Path, None), validate_default=False)
    plan_file: Path | None = None
    # the public datasets (Maven CRM, Superstore, Olist) that `make load-dataset` and their tests read
    datasets_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets"
    # The sources beyond the CRM (each: set -> live; unset -> demo in demo mode, skipped otherwise).
    direct_token: SecretStr | None = None
    direct_client_login: str | None = None
    direct_api_url: HttpUrlText = "https://api.direct.yandex.com"
    vk_ads_token: SecretStr | None = None
    vk_ads_api_url: HttpUrlText = "https://ads.vk.com"
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
    source_stale_hours: float = Field(default=3.0, gt=0)  # no good load of a source for this long: on-call hears

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment over .env; or only the mapping `load_settings(environ)` was given."""
        given = _GIVEN_ENVIRONMENT.get()
        if given is not None:
            return init_settings, _MappingSource(settings_cls, given)
        return init_settings, env_settings, dotenv_settings

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """A value of only spaces is as unset as an empty one (env_ignore_empty drops only "")."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("bitrix24_webhook_url")
    @classmethod
    def _webhook_is_a_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _http_url(value.get_secret_value())
        return value

    @field_validator("telegram_action_users")
    @classmethod
    def _action_users_pairs(cls, value: str | None) -> str | None:
        if value is not None:
            parse_action_users(value)
        return value

    @property
    def action_users(self) -> dict[int, str]:
        """TELEGRAM_ACTION_USERS as {Telegram user id: CRM user id}; empty: nobody may press."""
        return parse_action_users(self.telegram_action_users or "")

    @field_validator("cbr_api_url")
    @classmethod
    def _cbr_url_or_off(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in CBR_OFF_WORDS:
            try:
                _http_url(value)
            except ValueError:
                raise ValueError("must be an http(s) URL such as https://www.cbr.ru, or off") from None
        return value

    @field_validator("company_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception:  # noqa: BLE001 - zoneinfo raises several types
            raise ValueError(f"must be an IANA time zone such as {DEFAULT_TIMEZONE}") from None
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not (
            value.startswith("duckdb:///") or value.startswith(("postgresql://", "postgres://"))
        ):
            raise ValueError("must start with duckdb:/// or postgresql://")
        return value

    @model_validator(mode="after")
    def _default_data_dir(self) -> Settings:
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
        return (self.cbr_api_url or "").strip().lower() in CBR_OFF_WORDS

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.company_timezone)

    @property
    def demo_dir(self) -> Path:
        """Where the demo world of this size/seed/today is written (a cache keyed by all three)."""
        return self.data_dir / "demo" / f"{self.demo_size}-{self.demo_seed}-{self.today.isoformat()}"


class _MappingSource(PydanticBaseSettingsSource):
    """A given mapping read like the environment (upper-case names, empty = unset), and nothing else."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._values = {name.lower(): value for name, value in environ.items() if value != ""}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {name: self._values[name] for name in self.settings_cls.model_fields if name in self._values}


_GIVEN_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("settings_environment", default=None)


@contextmanager
def _reading_only(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _GIVEN_ENVIRONMENT.set(environ)
    try:
        yield
    finally:
        _GIVEN_ENVIRONMENT.reset(token)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment over .env; given a mapping, from that mapping alone (tests).

    Raises SettingsError naming each bad variable and what it expects, never its value: the value
    may be a password or a token.
    """
    try:
        with _reading_only(environ):
            return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{str(err['loc'][0]).upper() if err['loc'] else 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def _print_path(what: str) -> None:
    """`python -m resources.settings site|warehouse|datasets`: where the settings put things (for the Makefile)."""
    s = load_settings()
    paths = {
        "site": s.data_dir / "site",
        "warehouse": s.warehouse.removeprefix("duckdb:///"),
        "datasets": s.datasets_dir,
    }
    print(paths[what])


if __name__ == "__main__":
    import sys

    _print_path(sys.argv[1])
