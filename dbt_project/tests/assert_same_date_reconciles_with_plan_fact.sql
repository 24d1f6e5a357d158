{{ config(meta={"dagster": {"ref": {"name": "mart_same_date"}}}) }}

-- The company's month-to-date on the last day of each month in the data equals that month's actual
-- in mart_plan_fact: the same-date figures and plan vs actual tell one story.

with

month_ends as (

    select
        {{ month_start('day') }} as month,
        max(day) as last_day

    from {{ ref('mart_same_date') }}
    group by 1

),

same_date as (

    select
        month_ends.month,
        mart_same_date.mtd_won_rub

    from month_ends

    inner join {{ ref('mart_same_date') }} as mart_same_date
        on mart_same_date.day = month_ends.last_day
        and mart_same_date.scope_type = 'company'

),

plan_fact as (

    select
        month,
        sum(actual_rub) as actual_rub

    from {{ ref('mart_plan_fact') }}
    group by month

)

select
    same_date.month,
    same_date.mtd_won_rub,
    plan_fact.actual_rub

from same_date

left join plan_fact
    on same_date.month = plan_fact.month

where abs(same_date.mtd_won_rub - coalesce(plan_fact.actual_rub, 0)) > 0.005
