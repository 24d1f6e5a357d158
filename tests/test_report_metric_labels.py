"""The anomaly tables the site shows name each metric in Russian, from one list (assets/metric_labels.py)."""

from __future__ import annotations

import polars as pl

from assets.report import with_metric_titles, with_subject_titles


def test_each_anomaly_reads_its_metric_in_russian_and_a_stage_conversion_names_its_stages() -> None:
    anomalies = pl.DataFrame(
        {
            "top_metric": ["calls_out", "stage_conversion", "cpl_rub", "brand_new_metric"],
            "metric_detail": [None, "«Подготовка КП» → «Счёт на предоплату» (Новые продажи)", None, None],
        }
    )
    labels = with_metric_titles(anomalies)["metric_label"].to_list()
    assert labels == [
        "Исходящие звонки",
        "Конверсия этапа «Подготовка КП» → «Счёт на предоплату» (Новые продажи), %",
        "Стоимость лида",
        "Другой показатель",  # a metric the list does not know yet never shows its column name
    ]


def test_an_anomaly_table_without_the_detail_column_still_gets_labels() -> None:
    """A warehouse written before the stage conversions (no metric_detail yet) still shows its anomalies."""
    labels = with_metric_titles(pl.DataFrame({"top_metric": ["lost_count"]}))["metric_label"].to_list()
    assert labels == ["Проиграно сделок"]


def test_each_anomaly_says_who_or_what_it_is_about() -> None:
    """The page's first column: a manager by name, a channel and a pipeline named as such (a pipeline's
    fall is nobody's alone); a table written before channels and pipelines has only managers."""
    anomalies = pl.DataFrame(
        {
            "subject_type": ["manager", "channel", "pipeline"],
            "manager_name": ["Иванов Иван", "Яндекс.Директ", "Повторные продажи"],
        }
    )
    labels = with_subject_titles(anomalies)["subject_label"].to_list()
    assert labels == ["Иванов Иван", "Канал Яндекс.Директ", "Воронка «Повторные продажи»"]
    older = with_subject_titles(pl.DataFrame({"manager_name": ["Петров Пётр"]}))
    assert older["subject_label"].to_list() == ["Петров Пётр"]
