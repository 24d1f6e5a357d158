-- Won revenue per business day and department (CRM view, docs/KPI.md "Revenue"). Dense: every
-- department whose managers own deals gets a row for every day from the first to the last day with any
-- CRM event (deal created or closed, lead, activity), zeros included, so charts and models see
-- quiet days as zero rather than as missing.
-- Added columns (the forecast's inputs): payments_rub, the cash view (1C payments by payment day,
-- attributed through the paid deal's manager; 0 until 1C lands), open_pipeline_rub (rubles of the
-- department's deals open at the end of the day: created by then, not closed by then) and
-- open_deals (their count).

with

deals as (

    select * from {{ ref('deal') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

calendar as (

    select * from {{ ref('calendar') }}

),

payments as (

    select * from {{ ref('payment') }}

),

paid_by_day as (

    select
        payments.paid_day as day,
        managers.department_id,
        sum(payments.amount_rub) as payments_rub

    from payments

    inner join deals
        on payments.deal_id = deals.deal_id

    left join managers
        on deals.manager_id = managers.manager_id

    group by 1, 2

),

pipeline_moves as (

    -- +amount on the day a deal is created, -amount on the day it closes. A closed deal with no creation
    -- day (an export that keeps only the closing date: Olist's) or one stamped as created after it closed
    -- enters on its closing day: it was never seen open, and the running count never goes below zero.
    select
        case
            when deals.created_day is null or deals.created_day > deals.closed_day then deals.closed_day
            else deals.created_day
        end as day,
        managers.department_id,
        deals.amount_rub as rub_change,
        1 as count_change
    from deals left join managers on deals.manager_id = managers.manager_id
    union all
    select deals.closed_day, managers.department_id, -deals.amount_rub, -1
    from deals left join managers on deals.manager_id = managers.manager_id
    where deals.is_closed

),

pipeline_by_day as (

    select
        day,
        department_id,
        sum(coalesce(rub_change, 0)) as rub_change,
        sum(count_change) as count_change

    from pipeline_moves
    group by 1, 2

),

won_by_day as (

    select
        deals.closed_day as day,
        managers.department_id,
        sum(deals.amount_rub) as won_rub,
        count(*) as won_count

    from deals

    left join managers
        on deals.manager_id = managers.manager_id

    where deals.is_won
    group by 1, 2

),

selling_departments as (

    -- departments whose managers own deals (not, say, the company root where the director sits)
    select distinct managers.department_id

    from deals

    inner join managers
        on deals.manager_id = managers.manager_id

    where managers.department_id is not null

),

grid as (

    select
        calendar.day,
        selling_departments.department_id

    from calendar

    cross join selling_departments

),

joined as (

    select
        coalesce(grid.day, won_by_day.day) as day,
        coalesce(grid.department_id, won_by_day.department_id) as department_id,
        coalesce(won_by_day.won_rub, 0) as won_rub,
        coalesce(won_by_day.won_count, 0) as won_count

    from grid

    full outer join won_by_day
        on grid.day = won_by_day.day
        and grid.department_id = won_by_day.department_id

),

final as (

    select
        joined.day,
        joined.department_id,
        departments.department_name,
        cast(joined.won_rub as double precision) as won_rub,
        cast(joined.won_count as bigint) as won_count,
        cast(coalesce(paid_by_day.payments_rub, 0) as double precision) as payments_rub,
        cast(sum(coalesce(pipeline_by_day.rub_change, 0)) over running as double precision) as open_pipeline_rub,
        cast(sum(coalesce(pipeline_by_day.count_change, 0)) over running as bigint) as open_deals

    from joined

    left join paid_by_day
        on joined.day = paid_by_day.day
        and joined.department_id is not distinct from paid_by_day.department_id

    left join pipeline_by_day
        on joined.day = pipeline_by_day.day
        and joined.department_id is not distinct from pipeline_by_day.department_id

    left join departments
        on joined.department_id = departments.department_id

    window running as (partition by joined.department_id order by joined.day
                       rows between unbounded preceding and current row)

)

select * from final
