"""Anomalies on a small hand-made world: each injected kind is found with its numbers, a normal world
flags nothing, later rows change nothing, and the asset writes every active subject once (checked).
A pipeline's stage conversion: a fall spread over its managers is found with the share worked out
by hand, while one manager's collapse alone flags that manager and not the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from dagster import materialize

from assets.anomalies.assets import manager_anomalies
from assets.anomalies.checks import CHECKS, active_subjects, coverage_problems, explanation_problems
from assets.anomalies.kpis import manager_panel, stage_panel
from assets.anomalies.model import score_day
from resources.warehouse import Warehouse
from tests.fakes.pipeline_world import LONE, PIPELINE, pipeline_exits, pipeline_share
from tests.support.pg import temporary_database

AS_OF = date(2025, 10, 15)  # a Wednesday, not a holiday
MANAGERS = range(1, 11)
SILENT, LOSER, SLOW, BIG, BURNT = 3, 4, 5, 6, 7  # the managers with an injected anomaly on AS_OF
STALLED, STEADY = 8, 9  # proposals stopped converting for two weeks / the same volume, converting as ever
STALL_DAYS = 10
CHANNELS = {"DIRECT": "Яндекс.Директ", "VK": "VK Реклама", "WEB": "Сайт", "SEO": "SEO"}
PRICEY, SILENT_CHANNEL, OVERSPENT = "DIRECT", "WEB", "VK"
BURNOUT_DAYS = 12  # working days of the burnout before and including AS_OF
OVERRUN_DAYS = 6


def weekdays(through: date, n_days: int = 120) -> list[date]:
    return [d for d in (through - timedelta(days=k) for k in range(n_days - 1, -1, -1)) if d.weekday() < 5]


def managers(seed: int = 3, through: date = AS_OF) -> pl.DataFrame:
    """120 days of weekday work for 10 managers of different sizes (mart_manager_daily's columns)."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in MANAGERS:
        pace = 0.6 + 0.15 * m  # manager 10 works 3x as much as manager 1: big is not anomalous
        for d in weekdays(through):
            won = int(rng.poisson(0.6 * pace))
            calls = int(rng.poisson(30 * pace))
            rows.append(
                {
                    "day": d,
                    "manager_id": m,
                    "manager_name": f"Менеджер {m}",
                    "calls_out": calls,
                    "activities_total": calls + int(rng.poisson(12 * pace)),
                    "lost_count": int(rng.poisson(1.0)),
                    "median_response_minutes": float(rng.lognormal(np.log(25), 0.3)),
                    "won_count": won,
                    "won_rub": float(sum(rng.lognormal(np.log(150_000), 0.3) for _ in range(won))),
                }
            )
    return pl.DataFrame(rows)


def channels(seed: int = 5, through: date = AS_OF) -> pl.DataFrame:
    """The channels' days (mart_channel's columns): two billed ad channels, two organic ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for code, name in CHANNELS.items():
        billed = code in ("DIRECT", "VK")
        for d in weekdays(through):
            leads = int(rng.poisson(15 if code != "SEO" else 6))
            rows.append(
                {
                    "day": d,
                    "channel": code,
                    "channel_name": name,
                    "spend_rub": float(leads * 900 * rng.uniform(0.85, 1.15) + 3000) if billed else None,
                    "leads": leads,
                    "won_count": int(rng.poisson(1.5)),
                }
            )
    return pl.DataFrame(rows)


def stage_exits(seed: int = 7, through: date = AS_OF, stall: bool = True) -> pl.DataFrame:
    """Deals leaving two stages of pipeline 0 (mart_stage_exits' columns): about 2 a weekday per
    manager and stage, 85-90 % moving on; with `stall`, STALLED's deals leaving the proposal stage in
    the last STALL_DAYS weekdays are all lost but one in five."""
    rng = np.random.default_rng(seed)
    stalled = set(weekdays(through)[-STALL_DAYS:]) if stall else set()
    stages = (("NEW", "Новая", "Подготовка КП", 0.9), ("PREPARATION", "Подготовка КП", "Счёт на предоплату", 0.85))
    rows, deal = [], 0
    for m in MANAGERS:
        for d in weekdays(through):
            for stage_id, name, next_name, p in stages:
                for _ in range(int(rng.poisson(2.0))):
                    deal += 1
                    moved = bool(rng.random() < p)
                    if m == STALLED and stage_id == "PREPARATION" and d in stalled:
                        moved = deal % 5 == 0
                    rows.append(
                        {
                            "deal_id": deal,
                            "entry_number": 2,
                            "manager_id": m,
                            "pipeline_id": 0,
                            "pipeline_name": "Новые продажи",
                            "stage_id": stage_id,
                            "stage_name": name,
                            "stage_sort": 20 if stage_id == "NEW" else 30,
                            "next_stage_name": next_name,
                            "exited_day": d,
                            "advanced": moved,
                        }
                    )
    return pl.DataFrame(rows)


def last_weekdays(n: int) -> list[date]:
    return weekdays(AS_OF)[-n:]


def inject(mgr: pl.DataFrame, chan: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One anomaly of each kind on AS_OF (the burnout and the overrun over the days before it too)."""
    on_day = pl.col("day") == AS_OF
    mid = pl.col("manager_id")
    silent = on_day & (mid == SILENT)  # the mart is dense: a silent day is a row of zeros
    mgr = mgr.with_columns(
        pl.when(silent).then(0).otherwise(pl.col(c)).alias(c) for c in ("calls_out", "activities_total", "lost_count")
    ).with_columns(
        pl.when(on_day & (mid == LOSER)).then(15).otherwise(pl.col("lost_count")).alias("lost_count"),
        pl.when(on_day & (mid == SLOW))
        .then(420.0)
        .otherwise(pl.col("median_response_minutes"))
        .alias("median_response_minutes"),
        pl.when(on_day & (mid == BIG)).then(1).otherwise(pl.col("won_count")).alias("won_count"),
        pl.when(on_day & (mid == BIG)).then(4_000_000.0).otherwise(pl.col("won_rub")).alias("won_rub"),
    )
    burnt = pl.col("day").is_in(last_weekdays(BURNOUT_DAYS)) & (mid == BURNT)
    mgr = mgr.with_columns(
        pl.when(burnt).then((pl.col(c) * 0.3).round().cast(pl.Int64)).otherwise(pl.col(c)).alias(c)
        for c in ("calls_out", "activities_total")
    )
    ch = pl.col("channel")
    overrun = pl.col("day").is_in(last_weekdays(OVERRUN_DAYS)) & (ch == OVERSPENT)
    chan = chan.with_columns(
        pl.when(on_day & (ch == PRICEY))
        .then(pl.col("spend_rub") * 3)
        .when(overrun)
        .then(pl.col("spend_rub") * 1.8)
        .otherwise(pl.col("spend_rub"))
        .alias("spend_rub"),
        pl.when(on_day & (ch == SILENT_CHANNEL)).then(0).otherwise(pl.col("leads")).alias("leads"),
    )
    return mgr, chan


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    return inject(managers(), channels())


@pytest.fixture(scope="module")
def exits() -> pl.DataFrame:
    return stage_exits()


@pytest.fixture(scope="module")
def scored_rows(world: tuple[pl.DataFrame, pl.DataFrame], exits: pl.DataFrame) -> pl.DataFrame:
    return score_day(world[0], AS_OF, world[1], exits)


@pytest.fixture(scope="module")
def scored(scored_rows: pl.DataFrame) -> dict[str, dict]:
    """The managers' and channels' rows by subject id (a pipeline's id may be a manager's too)."""
    return {r["subject_id"]: r for r in scored_rows.filter(pl.col("subject_type") != "pipeline").iter_rows(named=True)}


def usual(frame: pl.DataFrame, key: str, subject: object, column: str, n: int = 40) -> float:
    """The subject's median over its last `n` weekdays before AS_OF (computed here, by hand)."""
    before = frame.filter((pl.col(key) == subject) & (pl.col("day") < AS_OF)).sort("day").tail(n)
    return float(np.median(before[column].to_numpy()))


def test_every_active_subject_is_scored_once(scored: dict[str, dict], scored_rows: pl.DataFrame) -> None:
    assert set(scored) == {str(m) for m in MANAGERS} | set(CHANNELS)
    (pipeline,) = scored_rows.filter(pl.col("subject_type") == "pipeline").iter_rows(named=True)
    assert (pipeline["subject_id"], pipeline["manager_name"], pipeline["manager_id"]) == ("0", "Новые продажи", None)
    assert scored[str(SILENT)]["manager_name"] == f"Менеджер {SILENT}"  # silent today, active lately
    assert scored["WEB"]["subject_type"] == "channel" and scored["WEB"]["manager_id"] is None


def test_a_silent_day_is_found_with_its_usual_activity(world, scored) -> None:
    row = scored[str(SILENT)]
    assert row["is_anomaly"] and row["top_metric"] in ("activities_total", "calls_out")
    assert row["metric_value"] == 0
    assert row["usual_value"] == usual(world[0], "manager_id", SILENT, row["top_metric"])
    assert row["deviation_pct"] == pytest.approx(-100.0)


def test_a_lost_deal_spike_is_found(world, scored) -> None:
    row = scored[str(LOSER)]
    assert row["is_anomaly"] and row["top_metric"] == "lost_count"
    assert row["metric_value"] == 15 and row["usual_value"] == usual(world[0], "manager_id", LOSER, "lost_count")


def test_a_response_time_blow_out_is_found(world, scored) -> None:
    row = scored[str(SLOW)]
    assert row["is_anomaly"] and row["top_metric"] == "median_response_minutes"
    assert row["metric_value"] == 420.0
    want = usual(world[0], "manager_id", SLOW, "median_response_minutes")
    assert row["usual_value"] == pytest.approx(want)
    assert row["deviation_pct"] == pytest.approx(100 * (420 - want) / want)


def test_a_huge_average_deal_is_found(world, scored) -> None:
    row = scored[str(BIG)]
    assert row["is_anomaly"] and row["top_metric"] == "avg_deal_rub"
    assert row["metric_value"] == 4_000_000.0


def test_a_burnout_is_found_as_a_sustained_drop(world, scored) -> None:
    row = scored[str(BURNT)]
    assert row["is_anomaly"] and row["window_days"] == 10
    assert row["top_metric"] in ("activities_total", "calls_out")
    recent = world[0].filter(pl.col("manager_id") == BURNT).sort("day").tail(10)[row["top_metric"]]
    assert row["metric_value"] == pytest.approx(float(recent.mean()))


def test_a_stage_conversion_collapse_is_found_with_its_stage_pair(exits, scored) -> None:
    row = scored[str(STALLED)]
    assert row["is_anomaly"] and row["top_metric"] == "stage_conversion"
    assert row["metric_detail"] == "«Подготовка КП» → «Счёт на предоплату» (Новые продажи)"
    # the share of the manager's last 15 deals that left the proposal stage and moved on, by hand
    mine = exits.filter((pl.col("manager_id") == STALLED) & (pl.col("stage_id") == "PREPARATION"))
    last = mine.sort("exited_day", "deal_id").tail(15)["advanced"].to_list()
    assert row["metric_value"] == pytest.approx(100 * sum(last) / 15)
    assert row["metric_value"] < 40 and row["usual_value"] >= 70
    assert "stage_conversion «Подготовка КП»" in row["drivers"]
    # the same volume converting as usual is no news
    assert not scored[str(STEADY)]["is_anomaly"]


def test_a_stage_without_enough_recent_deals_has_no_conversion(world, exits) -> None:
    panel = manager_panel(world[0], AS_OF - timedelta(days=100), AS_OF)
    prep = exits.filter((pl.col("manager_id") == STEADY) & (pl.col("stage_id") == "PREPARATION"))
    today = pl.col("day") == AS_OF
    assert stage_panel(prep, panel).filter(today).height == 1
    # one exit in eight: the last 15 reach back about 80 days, older than a conversion worth watching
    sparse = prep.sort("exited_day", "deal_id").gather_every(8)
    window = sparse.filter(pl.col("exited_day") <= AS_OF).tail(15)
    assert (AS_OF - window["exited_day"].min()).days > 45
    assert stage_panel(sparse, panel).filter(today).is_empty()


def test_channel_anomalies_are_found(world, scored) -> None:
    chan = world[1]
    pricey = scored[PRICEY]
    assert pricey["is_anomaly"] and pricey["top_metric"] in ("spend_rub", "cpl_rub") and pricey["window_days"] == 1
    silent = scored[SILENT_CHANNEL]
    assert silent["is_anomaly"] and silent["top_metric"] == "leads" and silent["metric_value"] == 0
    assert silent["usual_value"] == usual(chan, "channel", SILENT_CHANNEL, "leads")
    overrun = scored[OVERSPENT]
    # spend and the cost per lead both run 1.8x for days: either may lead, the spend is named
    assert overrun["is_anomaly"] and overrun["top_metric"] in ("spend_rub", "cpl_rub")
    assert overrun["window_days"] == 8 and "spend_rub (8 дн.)" in (overrun["drivers"] or "")


def test_nobody_else_is_flagged(scored, scored_rows) -> None:
    # STALLED's proposals alone do not make pipeline 0's: the manager is flagged, the pipeline is not
    assert scored_rows.filter((pl.col("subject_type") == "pipeline") & pl.col("is_anomaly")).is_empty()
    flagged = {k for k, r in scored.items() if r["is_anomaly"]}
    assert flagged == {str(m) for m in (SILENT, LOSER, SLOW, BIG, BURNT, STALLED)} | {
        PRICEY,
        SILENT_CHANNEL,
        OVERSPENT,
    }


def test_a_normal_world_has_quiet_days() -> None:
    mgr, chan, ex = managers(seed=11), channels(seed=12), stage_exits(seed=13, stall=False)
    days = [AS_OF - timedelta(days=k) for k in range(20) if (AS_OF - timedelta(days=k)).weekday() < 5]
    flagged = pl.concat([score_day(mgr, d, chan, ex) for d in days]).filter(pl.col("is_anomaly"))
    assert flagged.is_empty(), flagged.select("as_of_day", "subject_id", "top_metric", "metric_value", "usual_value")


def test_weekends_and_holidays_are_not_scored(world) -> None:
    assert score_day(world[0], date(2025, 10, 12), world[1]).is_empty()  # a Sunday
    assert score_day(world[0], date(2025, 11, 4), world[1]).is_empty()  # Unity Day, a Tuesday


def test_later_rows_change_nothing(world, exits) -> None:
    mgr, chan = world
    later_m = managers(seed=99, through=AS_OF + timedelta(days=30)).filter(pl.col("day") > AS_OF)
    later_c = channels(seed=98, through=AS_OF + timedelta(days=30)).filter(pl.col("day") > AS_OF)
    later_x = stage_exits(seed=97, through=AS_OF + timedelta(days=30)).filter(pl.col("exited_day") > AS_OF)
    a = score_day(mgr, AS_OF, chan, exits)
    b = score_day(
        pl.concat([mgr, later_m.with_columns(pl.col("calls_out") * 100)], how="vertical_relaxed"),
        AS_OF,
        pl.concat([chan, later_c.with_columns(pl.col("leads") * 0)], how="vertical_relaxed"),
        pl.concat([exits, later_x.with_columns(pl.lit(False).alias("advanced"))], how="vertical_relaxed"),
    )
    assert a.equals(b)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    """The same table and checks on both warehouses a company may run (pipeline rows included)."""
    if request.param == "duckdb":
        yield Warehouse(url=f"duckdb:///{tmp_path}/w.duckdb")
    else:
        with temporary_database() as url:
            yield Warehouse(url=url)


def test_asset_writes_each_subject_once_and_its_checks_pass(warehouse: Warehouse, world, exits) -> None:
    mgr, chan = world
    warehouse.replace_rows("marts", "mart_manager_daily", mgr, where={})
    warehouse.replace_rows("marts", "mart_channel", chan, where={})
    warehouse.replace_rows("marts", "mart_stage_exits", exits, where={})
    for _ in range(2):  # rerun replaces
        result = materialize(
            [manager_anomalies, *CHECKS], partition_key=AS_OF.isoformat(), resources={"warehouse": warehouse}
        )
        assert result.success
    rows = warehouse.query("select * from ml.manager_anomalies").with_columns(pl.col("as_of_day").cast(pl.Date))
    assert rows.height == len(MANAGERS) + len(CHANNELS) + 1  # and pipeline 0
    assert {"metric_value", "usual_value", "top_metric", "manager_name", "deviation_pct", "drivers"} <= set(
        rows.columns
    )
    flagged = set(rows.filter(pl.col("is_anomaly"))["subject_id"].to_list())
    assert {str(SILENT), str(LOSER), str(STALLED), PRICEY, SILENT_CHANNEL} <= flagged
    stalled = rows.filter(pl.col("subject_id") == str(STALLED)).row(0, named=True)
    assert stalled["top_metric"] == "stage_conversion" and "«Подготовка КП»" in stalled["metric_detail"]

    events = pl.concat(
        [
            mgr.filter(pl.col("activities_total") > 0).select(
                pl.lit("manager").alias("subject_type"), pl.col("manager_id").cast(pl.Utf8).alias("subject_id"), "day"
            ),
            chan.filter(pl.col("leads") > 0).select(
                pl.lit("channel").alias("subject_type"), pl.col("channel").alias("subject_id"), "day"
            ),
            exits.select(
                pl.lit("pipeline").alias("subject_type"),
                pl.col("pipeline_id").cast(pl.Utf8).alias("subject_id"),
                pl.col("exited_day").alias("day"),
            ),
        ]
    )
    active = active_subjects(events, [AS_OF])
    assert coverage_problems(rows, active) == []
    assert explanation_problems(rows) == []
    # the check sees a subject nobody scored, and a flag without its numbers
    missing = coverage_problems(rows.filter(pl.col("subject_id") != str(SLOW)), active)
    assert missing == [f"{AS_OF} manager {SLOW}: 0 строк(и), ожидалась одна"]
    unwatched = coverage_problems(rows.filter(pl.col("subject_type") != "pipeline"), active)
    assert unwatched == [f"{AS_OF} pipeline 0: 0 строк(и), ожидалась одна"]
    broken = rows.with_columns(
        pl.when(pl.col("subject_id") == PRICEY).then(None).otherwise(pl.col("usual_value")).alias("usual_value")
    )
    assert len(explanation_problems(broken)) == 1
    # the asset's own checks ran with it and passed
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    # a Sunday partition writes no rows and leaves the Wednesday alone
    assert materialize([manager_anomalies], partition_key="2025-10-12", resources={"warehouse": warehouse}).success
    assert warehouse.query("select count(*) as n from ml.manager_anomalies")["n"][0] == rows.height


def test_every_flaggable_metric_reads_in_russian_and_a_stage_names_its_pair(scored) -> None:
    from assets.anomalies.model import KPIS
    from assets.insights.facts import anomalies_of_day
    from assets.insights.writer import METRIC_LABELS, NEXT_STEPS, anomaly_sentence

    assert {k.column for k in KPIS} <= set(METRIC_LABELS) & set(NEXT_STEPS)
    rows = pl.DataFrame([scored[str(STALLED)]])
    (fact,) = anomalies_of_day(AS_OF, rows)
    row = scored[str(STALLED)]
    assert anomaly_sentence(fact) == (
        "Менеджер 8: конверсия этапа «Подготовка КП» → «Счёт на предоплату» (Новые продажи), % сделок "
        f"{row['metric_value']:.1f} (обычно {row['usual_value']:.1f})"
    )


def test_a_response_time_of_one_new_lead_is_not_a_blow_out(world) -> None:
    def with_items(on_as_of: int) -> pl.DataFrame:
        items = pl.when((pl.col("day") == AS_OF) & (pl.col("manager_id") == SLOW)).then(on_as_of).otherwise(3)
        return world[0].with_columns(items.alias("leads_assigned"), pl.lit(0).alias("deals_created"))

    def slow(mgr: pl.DataFrame) -> dict:
        return score_day(mgr, AS_OF, world[1]).filter(pl.col("subject_id") == str(SLOW)).row(0, named=True)

    busy = slow(with_items(3))
    assert busy["is_anomaly"] and busy["top_metric"] == "median_response_minutes"
    one = slow(with_items(1))  # the median of one late reply
    assert not one["is_anomaly"] and "median_response_minutes" not in (one["drivers"] or "")


def test_a_sustained_rise_in_cost_per_lead_is_found() -> None:
    mgr, chan = managers(), channels()
    # VK's last 8 weekdays: the same money for half the leads (the budget burns without results)
    late = pl.col("day").is_in(last_weekdays(8)) & (pl.col("channel") == "VK")
    chan = chan.with_columns(pl.when(late).then(pl.col("leads") // 2).otherwise(pl.col("leads")).alias("leads"))
    row = score_day(mgr, AS_OF, chan).filter(pl.col("subject_id") == "VK").row(0, named=True)
    assert row["is_anomaly"] and row["top_metric"] == "cpl_rub" and row["window_days"] == 8
    recent = chan.filter(pl.col("channel") == "VK").sort("day").tail(8)
    assert row["metric_value"] == pytest.approx(float((recent["spend_rub"] / recent["leads"]).mean()))


# --- a pipeline as the subject -------------------------------------------------------------------
FALL_DAYS = 4  # the last weekdays up to AS_OF of the fall


def repeat_exits(seed: int, fall: str | None = None) -> pl.DataFrame:
    return pipeline_exits(weekdays(AS_OF), seed, fall, FALL_DAYS)


def score_repeat(exits: pl.DataFrame, day: date = AS_OF) -> tuple[dict, pl.DataFrame]:
    """Pipeline 1's row on `day`, and the managers' rows."""
    out = score_day(managers(), day, channels(), exits)
    pipeline = out.filter((pl.col("subject_type") == "pipeline") & (pl.col("subject_id") == str(PIPELINE)))
    return pipeline.row(0, named=True), out.filter(pl.col("subject_type") == "manager")


def test_a_pipeline_wide_fall_no_manager_crosses_is_found_with_its_share_by_hand() -> None:
    exits = repeat_exits(30, fall="spread")
    row, mgrs = score_repeat(exits)
    # no manager's own stage conversion (their last 15 deals) falls far enough to flag
    assert mgrs.filter(pl.col("is_anomaly")).is_empty(), mgrs.filter(pl.col("is_anomaly"))
    assert row["is_anomaly"] and row["top_metric"] == "stage_conversion"
    assert (row["manager_name"], row["manager_id"]) == ("Повторные продажи", None)  # no head of a pipeline
    assert row["metric_detail"] == "«Согласование условий» → «Счёт выставлен»"
    assert row["metric_value"] == pytest.approx(pipeline_share(exits, AS_OF))
    # the usual: the median of the same share on each of the 40 weekdays before
    usual = float(np.median([pipeline_share(exits, d) for d in weekdays(AS_OF)[-41:-1]]))
    assert row["usual_value"] == pytest.approx(usual)
    assert row["metric_value"] <= 60 and row["usual_value"] >= 80
    assert row["deviation_pct"] == pytest.approx(100 * (row["metric_value"] - usual) / usual)
    # the same share without the manager whose removal raises it most, by hand, is named beside it
    window = exits.filter(pl.col("exited_day") <= AS_OF).sort("exited_day", "deal_id").tail(40)
    spread = max(without(exits, m) for m in set(window["manager_id"]))
    assert spread <= 60
    assert f"(без одного менеджера {round(spread, 1)} %)" in row["drivers"]


def without(exits: pl.DataFrame, manager: int, through: date = AS_OF, n: int = 40) -> float:
    """The share (%) of the pipeline's last `n` exits up to `through` that moved on, `manager`'s left out."""
    window = exits.filter(pl.col("exited_day") <= through).sort("exited_day", "deal_id").tail(n)
    return 100 * float(window.filter(pl.col("manager_id") != manager)["advanced"].mean())


def test_a_steady_pipeline_is_not_flagged() -> None:
    exits = repeat_exits(22)
    days = weekdays(AS_OF)[-20:]
    out = pl.concat([score_day(managers(), d, channels(), exits) for d in days])
    pipelines = out.filter(pl.col("subject_type") == "pipeline")
    assert pipelines.height == len(days) and pipelines["metric_value"].null_count() == 0
    assert out.filter(pl.col("is_anomaly")).is_empty()


def test_one_managers_collapse_alone_flags_the_manager_not_the_pipeline() -> None:
    exits = repeat_exits(23, fall="lone")
    row, mgrs = score_repeat(exits)
    # the pipeline's share falls as far as in the spread fall: without the gate it would be flagged
    assert row["metric_value"] == pytest.approx(pipeline_share(exits, AS_OF))
    assert row["metric_value"] <= row["usual_value"] - 25
    assert not row["is_anomaly"]
    # without LONE the same window's share is about as usual: LONE's own alert covers it
    assert without(exits, LONE) >= row["usual_value"] - 10
    lone = mgrs.filter(pl.col("subject_id") == str(LONE)).row(0, named=True)
    assert lone["is_anomaly"] and lone["top_metric"] == "stage_conversion" and lone["metric_value"] == 0


def test_a_pipeline_day_reads_nothing_after_it() -> None:
    exits = repeat_exits(30, fall="spread")
    before = weekdays(AS_OF)[-FALL_DAYS - 1]  # the last day before the fall
    row, _ = score_repeat(exits, before)
    cut, _ = score_repeat(exits.filter(pl.col("exited_day") <= before), before)
    assert row == cut and not row["is_anomaly"]
    assert row["metric_value"] == pytest.approx(pipeline_share(exits, before))


def test_a_pipeline_anomaly_reads_in_russian_with_its_own_next_step() -> None:
    from assets.insights.facts import DayFacts, anomalies_of_day
    from assets.insights.writer import fact_items

    exits = repeat_exits(30, fall="spread")
    out = score_day(managers(), AS_OF, channels(), exits)
    (fact,) = anomalies_of_day(AS_OF, out)
    assert fact.subject_type == "pipeline"
    facts = DayFacts(
        as_of_day=AS_OF, month=AS_OF.replace(day=1), days_elapsed=15, days_in_month=31, plan_rub=0,
        actual_mtd_rub=0, anomalies=[fact],
    )  # fmt: skip
    (item,) = [i for i in fact_items(facts) if i.key == "anomalies"]
    value, usual = f"{fact.value:g}", f"{fact.usual:g}"  # 50.0 reads "50"
    assert item.template.startswith(
        "Необычные показатели: воронка «Повторные продажи»: конверсия этапа «Согласование условий» → "
        f"«Счёт выставлен», % сделок {value} (обычно {usual}). Первым делом — воронка «Повторные продажи»: "
        "выясните, что изменилось на этом этапе для всей воронки"
    )
