{{ config(meta={"dagster": {"ref": {"name": "mart_plan_fact"}}}) }}

-- Every won deal counts in exactly one month: it has a close day, and per month the plan-fact
-- mart's won count equals the won deals closed that month (none dropped, none counted twice).

with

deals as (

    select
        {{ month_start('closed_day') }} as month,
        count(*) as won_count

    from {{ ref('deal') }}
    where is_won
    group by 1

),

mart as (

    select
        month,
        sum(won_count) as won_count

    from {{ ref('mart_plan_fact') }}
    group by month

)

select
    coalesce(deals.month, mart.month) as month,
    deals.won_count as deal_won_count,
    mart.won_count as mart_won_count

from deals

full outer join mart
    on deals.month = mart.month

where deals.month is null
    or coalesce(deals.won_count, 0) <> coalesce(mart.won_count, 0)
