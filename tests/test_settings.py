"""The settings contract: defaults, mode detection, and errors that name the variable but hide its value."""

from __future__ import annotations

from datetime import date

import pytest

from resources.settings import SettingsError, load_settings


def test_nothing_set_means_embedded_demo_with_duckdb_under_data_dir(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path), "DEMO_TODAY": "2026-03-15"})
    assert s.demo_mode
    assert s.warehouse == f"duckdb:///{tmp_path.resolve()}/warehouse.duckdb"
    assert s.today == date(2026, 3, 15)
    assert s.demo_dir == tmp_path / "demo" / "M-42-2026-03-15"
    assert s.openai_model == "gpt-4o"
    assert s.company_timezone == "Europe/Moscow"


def test_a_crm_setting_leaves_demo_mode_and_is_never_printed():
    url = "https://portal.example/rest/7/s3cr3tcode/"
    s = load_settings({"BITRIX24_WEBHOOK_URL": url, "WAREHOUSE_URL": "postgresql://u@127.0.0.1/db"})
    assert not s.demo_mode
    assert s.warehouse == "postgresql://u@127.0.0.1/db"
    assert "s3cr3tcode" not in repr(s) and "s3cr3tcode" not in str(s)
    assert s.bitrix24_webhook_url.get_secret_value() == url


def test_empty_strings_count_as_unset():
    s = load_settings({"BITRIX24_WEBHOOK_URL": "  ", "OPENAI_MODEL": ""})
    assert s.demo_mode and s.openai_model == "gpt-4o"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WAREHOUSE_URL": "mysql://admin:hunter2@db/x"}, "WAREHOUSE_URL"),
        ({"COMPANY_TIMEZONE": "Mars/Olympus"}, "COMPANY_TIMEZONE"),
        ({"DEMO_SIZE": "XXL"}, "DEMO_SIZE"),
    ],
)
def test_a_bad_setting_is_named_and_its_value_not_echoed(env, named):
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    assert named in str(err.value)
    assert "hunter2" not in str(err.value)


def test_the_crm_cursor_overlap_is_a_documented_setting_with_a_safe_default():
    from pathlib import Path

    assert load_settings({}).ingest_cursor_overlap_seconds == 60.0
    assert load_settings({"INGEST_CURSOR_OVERLAP_SECONDS": "120"}).ingest_cursor_overlap_seconds == 120.0
    root = Path(__file__).resolve().parent.parent
    assert "\nINGEST_CURSOR_OVERLAP_SECONDS=" in (root / ".env.example").read_text(encoding="utf-8")
    assert "`INGEST_CURSOR_OVERLAP_SECONDS`" in (root / "README.md").read_text(encoding="utf-8")


# --- the .env file, the environment over it, and malformed values ---------------------------------
SETTING_NAMES = ("DEMO_SEED", "DEMO_SIZE", "COMPANY_TIMEZONE", "OPENAI_MODEL", "TELEGRAM_CHAT_ID", "AMOCRM_BASE_URL")


@pytest.fixture
def env_file(tmp_path, monkeypatch):
    """A .env in place of the project's (the one load_settings() reads), and none of its names in the environment."""
    from resources.settings import Settings

    path = tmp_path / ".env"
    monkeypatch.setitem(Settings.model_config, "env_file", path)
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    return path


def test_the_env_file_is_the_projects():
    from pathlib import Path

    from resources.settings import Settings

    assert Settings.model_config["env_file"] == Path(__file__).resolve().parent.parent / ".env"


def test_the_env_file_is_read(env_file):
    env_file.write_text(
        "# copied from .env.example and filled in\n"
        "DEMO_SEED=7\nCOMPANY_TIMEZONE=Asia/Yekaterinburg\nTELEGRAM_CHAT_ID=-100123\n"
        "DAGSTER_PG_HOST=db.internal\n",  # read by Dagster, not by the product: ignored here
        encoding="utf-8",
    )
    s = load_settings()
    assert (s.demo_seed, s.company_timezone, s.telegram_chat_id) == (7, "Asia/Yekaterinburg", "-100123")


def test_the_environment_wins_over_the_env_file(env_file, monkeypatch):
    env_file.write_text("DEMO_SEED=7\nDEMO_SIZE=L\n", encoding="utf-8")
    monkeypatch.setenv("DEMO_SEED", "9")
    s = load_settings()
    assert s.demo_seed == 9 and s.demo_size == "L"


def test_an_empty_value_is_unset_in_the_environment_and_in_the_env_file(env_file, monkeypatch):
    env_file.write_text("DEMO_SEED=7\nOPENAI_MODEL=\nAMOCRM_BASE_URL=\n", encoding="utf-8")
    monkeypatch.setenv("DEMO_SEED", "")  # empty: the file's value stands
    monkeypatch.setenv("COMPANY_TIMEZONE", "")
    s = load_settings()
    assert s.demo_seed == 7
    assert s.openai_model == "gpt-4o" and s.company_timezone == "Europe/Moscow"
    assert s.amocrm_base_url is None and s.demo_mode


def test_names_are_read_whatever_their_case(env_file, monkeypatch):
    env_file.write_text("demo_size=S\n", encoding="utf-8")
    monkeypatch.setenv("Demo_Seed", "5")
    s = load_settings()
    assert (s.demo_seed, s.demo_size) == (5, "S")


def test_a_given_mapping_is_read_alone(env_file, monkeypatch):
    env_file.write_text("DEMO_SEED=7\n", encoding="utf-8")
    monkeypatch.setenv("DEMO_SIZE", "L")
    s = load_settings({"COMPANY_TIMEZONE": "Asia/Omsk"})
    assert (s.demo_seed, s.demo_size, s.company_timezone) == (42, "M", "Asia/Omsk")


def test_a_bad_value_in_the_env_file_is_named_too(env_file):
    env_file.write_text("AMOCRM_BASE_URL=hunter2.amocrm\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="AMOCRM_BASE_URL") as err:
        load_settings()
    assert "hunter2" not in str(err.value)


SECRET = "hunter2"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        # URLs: a typo must stop the start, not surface as a connection error in a run hours later
        ("AMOCRM_BASE_URL", f"{SECRET}.amocrm.ru", "URL"),
        ("OPENAI_BASE_URL", f"htps//{SECRET}", "URL"),
        ("TELEGRAM_API_URL", f"api.telegram.org/{SECRET}", "URL"),
        ("DIRECT_API_URL", f"ftp://{SECRET}", "URL"),
        ("VK_ADS_API_URL", SECRET, "URL"),
        ("CBR_API_URL", f"www.cbr.ru/{SECRET}", "off"),
        ("BITRIX24_WEBHOOK_URL", f"portal.bitrix24.ru/rest/1/{SECRET}/", "URL"),
        # a time zone
        ("COMPANY_TIMEZONE", f"Europe/{SECRET}", "IANA time zone"),
        # numbers
        ("DEMO_SEED", SECRET, "integer"),
        ("ADS_LOOKBACK_DAYS", f"7{SECRET}", "integer"),
        ("INGEST_CURSOR_OVERLAP_SECONDS", SECRET, "number"),
    ],
)
def test_each_malformed_kind_names_the_variable_and_what_it_expects_never_the_value(name, value, expected):
    with pytest.raises(SettingsError) as err:
        load_settings({name: value})
    message = str(err.value)
    assert f"{name}:" in message and expected in message
    assert SECRET not in message


def test_cbr_off_is_not_a_url_but_a_switch():
    assert load_settings({"CBR_API_URL": "off"}).cbr_disabled
    assert load_settings({"CBR_API_URL": "https://www.cbr.ru"}).cbr_api_url == "https://www.cbr.ru"


def test_urls_are_kept_as_written():
    s = load_settings({"TELEGRAM_API_URL": "http://127.0.0.1:8081", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert s.telegram_api_url == "http://127.0.0.1:8081" and s.openai_base_url == "http://127.0.0.1:9/v1"


def test_every_variable_the_code_reads_goes_through_the_settings():
    """Outside resources/settings.py only two modules touch os.environ, and neither to read a setting:
    assets/transform.py hands dbt its profile's connection, resources/evidence.py builds a subprocess's
    environment."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    allowed = {"assets/transform.py", "resources/evidence.py"}
    readers = sorted(
        str(path.relative_to(root))
        for folder in ("assets", "resources", "schedules", "demo")
        for path in (root / folder).rglob("*.py")
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8"))
    )
    readers += ["definitions.py"] if "os.environ" in (root / "definitions.py").read_text(encoding="utf-8") else []
    assert set(readers) <= allowed, readers
