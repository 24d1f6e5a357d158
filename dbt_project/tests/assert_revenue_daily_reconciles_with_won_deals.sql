{{ config(meta={"dagster": {"ref": {"name": "mart_revenue_daily"}}}) }}

-- The daily revenue mart adds up to the won deals of core.deal (every won day is kept).

with

mart as (

    select coalesce(sum(won_rub), 0) as won_rub, coalesce(sum(won_count), 0) as won_count
    from {{ ref('mart_revenue_daily') }}

),

deals as (

    select cast(coalesce(sum(amount_rub), 0) as double precision) as won_rub, count(*) as won_count
    from {{ ref('deal') }}
    where is_won

)

select mart.won_rub, deals.won_rub as deal_won_rub

from mart

cross join deals

where abs(mart.won_rub - deals.won_rub) > 0.005
    or mart.won_count <> deals.won_count
