-- Plan vs actual (DOMAIN.md): month x manager x pipeline. Actual = won deals' rubles by the business
-- month of their close; a full outer join keeps plan lines without sales and sales without a plan.

with

plan as (

    select * from {{ ref('plan') }}

),

deals as (

    select * from {{ ref('deal') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

plan_lines as (

    select
        month,
        manager_id,
        pipeline_id,
        sum(plan_rub) as plan_rub

    from plan
    group by month, manager_id, pipeline_id

),

won as (

    select
        {{ month_start('closed_day') }} as month,
        manager_id,
        pipeline_id,
        sum(amount_rub) as actual_rub,
        count(*) as won_count

    from deals
    where is_won
    group by 1, 2, 3

),

joined as (

    select
        coalesce(plan_lines.month, won.month) as month,
        coalesce(plan_lines.manager_id, won.manager_id) as manager_id,
        coalesce(plan_lines.pipeline_id, won.pipeline_id) as pipeline_id,
        coalesce(plan_lines.plan_rub, 0) as plan_rub,
        coalesce(won.actual_rub, 0) as actual_rub,
        coalesce(won.won_count, 0) as won_count

    from plan_lines

    full outer join won
        on plan_lines.month = won.month
        and plan_lines.manager_id = won.manager_id
        and plan_lines.pipeline_id = won.pipeline_id

),

measured as (

    select
        joined.*,
        case
            when plan_rub > 0 then round(actual_rub * 100.0 / plan_rub, 2)
        end as fulfilment_pct

    from joined

),

final as (

    select
        measured.month,
        managers.department_id,
        departments.department_name,
        measured.manager_id,
        managers.manager_name,
        measured.pipeline_id,
        pipelines.pipeline_name,
        cast(measured.plan_rub as double precision) as plan_rub,
        cast(measured.actual_rub as double precision) as actual_rub,
        cast(measured.won_count as bigint) as won_count,
        cast(measured.fulfilment_pct as double precision) as fulfilment_pct,
        case
            when measured.fulfilment_pct is null then null
            when measured.fulfilment_pct < {{ var('plan_red_below_pct') }} then 'red'
            when measured.fulfilment_pct < {{ var('plan_green_from_pct') }} then 'yellow'
            else 'green'
        end as colour,
        cast(greatest(measured.plan_rub - measured.actual_rub, 0) as double precision) as remaining_rub

    from measured

    left join managers
        on measured.manager_id = managers.manager_id

    left join departments
        on managers.department_id = departments.department_id

    left join pipelines
        on measured.pipeline_id = pipelines.pipeline_id

)

select * from final
