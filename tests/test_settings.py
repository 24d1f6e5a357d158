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
