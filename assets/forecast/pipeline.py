"""The open pipeline's part of the month-end forecast: each open deal × its probability of being won by month end.

A head of sales reads the month's end in the pipeline: what is open today, in which stage, for how
long. The probability is learned from the company's own history, "as of the same day of earlier
months": on day d of each earlier month, which deals were open, in which pipeline and stage and for
how long, and which of them were won by that month's end. A cell (pipeline, stage, age in stage) with
few deals borrows from its parent (pipeline, stage), then (pipeline), then the whole company
(additive smoothing towards the parent), so a rare stage does not get 0 % or 100 % from three deals.

Beside it, the share of the remaining days' revenue that came, in those same earlier months, from
deals not yet created on day d: the time-series part supplies that share of its forecast.

The same learning serves a shorter horizon (`estimate_at` with other (anchor, end) pairs): the week's
forecast (week.py) asks for P(won by Sunday), taught by the same weekday of earlier weeks.

Only what is known on the as-of day is used: deals created by then, their stage entries by then,
and labels of months that ended by then. A CRM without stage history (an export) gives every deal
the stage "?" and its age since creation.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

HISTORY_MONTHS = 12  # earlier months whose same day teaches the probabilities
SMOOTHING = 5.0  # pseudo-deals borrowed from the parent cell
AGE_BUCKETS = (7, 14, 30, 60)  # age in stage (days): 0-7, 8-14, 15-30, 31-60, 61+
NO_STAGE = "?"

DEALS_SCHEMA = {
    "deal_id": pl.Int64,
    "pipeline_id": pl.Int64,
    "created_day": pl.Date,
    "closed_day": pl.Date,
    "is_won": pl.Boolean,
    "amount_rub": pl.Float64,
}
STAGES_SCHEMA = {"deal_id": pl.Int64, "stage_id": pl.Utf8, "entered_day": pl.Date}


@dataclass(frozen=True)
class PipelineEstimate:
    """What the open pipeline says on the as-of day."""

    expected_rub: float  # Σ amount × P(won by month end) over open deals
    open_deals: int
    open_rub: float
    new_share: float  # share of the remaining days' revenue from deals created after day d (history)
    months_learned: int  # earlier months the probabilities came from
    deals: pl.DataFrame  # deal_id, pipeline_id, stage_id, age_days, amount_rub, probability


def same_day(month_start: date, day_of_month: int) -> date:
    """Day `day_of_month` of the month starting `month_start`, clipped to its last day."""
    last = calendar.monthrange(month_start.year, month_start.month)[1]
    return month_start.replace(day=min(day_of_month, last))


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _previous_month(month_start: date) -> date:
    return (month_start - timedelta(days=1)).replace(day=1)


def age_bucket(age_days: pl.Expr) -> pl.Expr:
    """The age-in-stage bucket's upper bound in days (99999 for the oldest)."""
    expr = pl.lit(99999)
    for bound in reversed(AGE_BUCKETS):
        expr = pl.when(age_days <= bound).then(pl.lit(bound)).otherwise(expr)
    return expr


def open_deals_at(deals: pl.DataFrame, stages: pl.DataFrame, day: date) -> pl.DataFrame:
    """Deals open at the end of `day` with their stage then and days in it.

    Open: created by `day`, not closed by `day` (a deal closed later was open then). The stage is the
    last open-stage entry on or before `day`; without one, "?" since creation.
    """
    open_now = deals.filter(
        pl.col("created_day").is_not_null()
        & (pl.col("created_day") <= day)
        & (pl.col("closed_day").is_null() | (pl.col("closed_day") > day))
    )
    if open_now.is_empty():
        return open_now.select(
            "deal_id", "pipeline_id", "amount_rub", "closed_day", "is_won", pl.lit(NO_STAGE).alias("stage_id")
        ).with_columns(pl.lit(0, dtype=pl.Int64).alias("age_days"))
    entered = (
        stages.filter(pl.col("entered_day") <= day)
        .sort(["deal_id", "entered_day"], maintain_order=True)
        .group_by("deal_id", maintain_order=True)
        .last()
    )
    joined = open_now.join(entered, on="deal_id", how="left")
    return joined.select(
        "deal_id",
        "pipeline_id",
        pl.col("amount_rub").fill_null(0.0),
        "closed_day",
        "is_won",
        pl.col("stage_id").fill_null(NO_STAGE),
        (pl.lit(day) - pl.coalesce("entered_day", "created_day")).dt.total_days().alias("age_days"),
    )


def _with_cells(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(age_bucket(pl.col("age_days")).alias("age_bucket"))


def month_pairs(as_of_day: date, months: int = HISTORY_MONTHS) -> list[tuple[date, date]]:
    """(the same day, that month's end) of each of the `months` earlier months, latest first."""
    pairs = []
    month = _previous_month(as_of_day.replace(day=1))
    for _ in range(months):
        pairs.append((same_day(month, as_of_day.day), month_end(month)))
        month = _previous_month(month)
    return pairs


def learn_probabilities(
    deals: pl.DataFrame, stages: pl.DataFrame, as_of_day: date, months: int = HISTORY_MONTHS
) -> tuple[pl.DataFrame, int]:
    """Training examples from the same day of the earlier months that ended by `as_of_day`.

    Returns (examples: pipeline_id, stage_id, age_bucket, won), the number of months used.
    """
    return examples_at(deals, stages, [(a, e) for a, e in month_pairs(as_of_day, months) if e <= as_of_day])


def examples_at(deals: pl.DataFrame, stages: pl.DataFrame, pairs: list[tuple[date, date]]) -> tuple[pl.DataFrame, int]:
    """For each (anchor, end): the deals open at the end of the anchor day, won (1) if won by `end`.

    Returns (examples: pipeline_id, stage_id, age_bucket, won), the number of anchors with open deals.
    """
    frames: list[pl.DataFrame] = []
    used = 0
    for anchor, end in pairs:
        open_then = open_deals_at(deals, stages, anchor)
        if not open_then.is_empty():
            used += 1
            frames.append(
                _with_cells(open_then).select(
                    "pipeline_id",
                    "stage_id",
                    "age_bucket",
                    (pl.col("is_won").fill_null(False) & (pl.col("closed_day") <= end)).cast(pl.Float64).alias("won"),
                )
            )
    if not frames:
        return pl.DataFrame(
            schema={"pipeline_id": pl.Int64, "stage_id": pl.Utf8, "age_bucket": pl.Int32, "won": pl.Float64}
        ), 0
    return pl.concat(frames, how="vertical_relaxed"), used


def probabilities(examples: pl.DataFrame, targets: pl.DataFrame, smoothing: float = SMOOTHING) -> pl.Series:
    """P(won by month end) for each target row (pipeline_id, stage_id, age_bucket), smoothed up the chain
    all → pipeline → (pipeline, stage) → (pipeline, stage, age bucket)."""
    if examples.is_empty():
        return pl.Series("probability", [0.0] * targets.height, dtype=pl.Float64)
    overall = float(examples["won"].mean())  # type: ignore[arg-type]  # a Float64 column's mean is a float
    levels = [["pipeline_id"], ["pipeline_id", "stage_id"], ["pipeline_id", "stage_id", "age_bucket"]]
    result = targets.select("pipeline_id", "stage_id", "age_bucket").with_columns(pl.lit(overall).alias("p"))
    for keys in levels:
        stats = examples.group_by(keys).agg(pl.col("won").sum().alias("w"), pl.len().alias("n"))
        result = (
            result.join(stats, on=keys, how="left")
            .with_columns(
                ((pl.col("w").fill_null(0.0) + smoothing * pl.col("p")) / (pl.col("n").fill_null(0) + smoothing)).alias(
                    "p"
                )
            )
            .drop("w", "n")
        )
    return result["p"].alias("probability")


def new_deal_share(deals: pl.DataFrame, as_of_day: date, months: int = HISTORY_MONTHS) -> float:
    """Of the revenue won after day d up to month end in earlier months, the share from deals created after day d.

    1.0 when there is no such history (a shop: every order is created and won the same day).
    """
    return new_share_at(deals, month_pairs(as_of_day, months))


def new_share_at(deals: pl.DataFrame, pairs: list[tuple[date, date]]) -> float:
    """Of the revenue won after each anchor up to its end, the share from deals created after the anchor
    (1.0 without such revenue)."""
    total = new = 0.0
    won = deals.filter(pl.col("is_won").fill_null(False) & pl.col("closed_day").is_not_null())
    for anchor, end in pairs:
        later = won.filter((pl.col("closed_day") > anchor) & (pl.col("closed_day") <= end))
        total += float(later["amount_rub"].fill_null(0.0).sum())
        new += float(
            later.filter(pl.col("created_day").is_null() | (pl.col("created_day") > anchor))["amount_rub"]
            .fill_null(0.0)
            .sum()
        )
    return new / total if total > 0 else 1.0


def estimate(deals: pl.DataFrame, stages: pl.DataFrame, as_of_day: date) -> PipelineEstimate:
    """The open pipeline's expected revenue by month end, and the new-deal share, as of `as_of_day`."""
    return estimate_at(deals, stages, as_of_day, [(a, e) for a, e in month_pairs(as_of_day) if e <= as_of_day])


def estimate_at(
    deals: pl.DataFrame, stages: pl.DataFrame, as_of_day: date, pairs: list[tuple[date, date]]
) -> PipelineEstimate:
    """The open pipeline's expected revenue and the new-deal share as of `as_of_day`, for a horizon taught
    by `pairs` (anchor, end): earlier days in the same place of their period as the as-of day, each with
    the end of its period (month end for the month; Sunday for the week: week.py). Every end must be
    on or before the as-of day."""
    deals = deals.select([pl.col(c).cast(t) for c, t in DEALS_SCHEMA.items()])
    stages = stages.select([pl.col(c).cast(t) for c, t in STAGES_SCHEMA.items()])
    examples, used = examples_at(deals, stages, pairs)
    now = _with_cells(open_deals_at(deals, stages, as_of_day))
    p = probabilities(examples, now)
    scored = now.with_columns(p).select("deal_id", "pipeline_id", "stage_id", "age_days", "amount_rub", "probability")
    return PipelineEstimate(
        expected_rub=float((scored["amount_rub"] * scored["probability"]).sum()),
        open_deals=scored.height,
        open_rub=float(scored["amount_rub"].sum()),
        new_share=new_share_at(deals, pairs),
        months_learned=used,
        deals=scored,
    )
