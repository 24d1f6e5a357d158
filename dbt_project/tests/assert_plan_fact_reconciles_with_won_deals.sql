{{ config(meta={"dagster": {"ref": {"name": "mart_plan_fact"}}}) }}

-- One source of truth: the plan-fact mart's actual rubles and won count add up to the won deals of
-- core.deal (to the kopeck), so no deal is dropped or doubled by the plan join.

with

mart as (

    select
        coalesce(sum(actual_rub), 0) as actual_rub,
        coalesce(sum(won_count), 0) as won_count

    from {{ ref('mart_plan_fact') }}

),

deals as (

    select
        cast(coalesce(sum(amount_rub), 0) as double precision) as actual_rub,
        count(*) as won_count

    from {{ ref('deal') }}
    where is_won

)

select
    mart.actual_rub as mart_actual_rub,
    deals.actual_rub as deal_actual_rub,
    mart.won_count as mart_won_count,
    deals.won_count as deal_won_count

from mart

cross join deals

where abs(mart.actual_rub - deals.actual_rub) > 0.005
    or mart.won_count <> deals.won_count
