-- Won revenue per business day and department (CRM view, DOMAIN.md "Revenue"). Dense: every
-- department whose managers own deals gets a row for every day from the first to the last day with any
-- CRM event (deal created or closed, lead, activity), zeros included, so charts and models see
-- quiet days as zero rather than as missing.

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
        cast(joined.won_count as bigint) as won_count

    from joined

    left join departments
        on joined.department_id = departments.department_id

)

select * from final
