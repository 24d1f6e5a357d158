-- Lost deals by reason (docs/KPI.md "Lost reasons"): month of the close x pipeline x manager x reason,
-- with the count, the rubles and the row's share of the month's lost deals in that pipeline (summed
-- over managers: the reason's share). The manager and department let the funnel page filter them.

with

deals as (

    select * from {{ ref('deal') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

lost as (

    select
        {{ month_start('closed_day') }} as month,
        pipeline_id,
        manager_id,
        coalesce(lost_reason, 'Не указана') as lost_reason,
        count(*) as lost_count,
        sum(coalesce(amount_rub, 0)) as lost_rub

    from deals
    where is_lost
    group by 1, 2, 3, 4

),

final as (

    select
        lost.month,
        lost.pipeline_id,
        pipelines.pipeline_name,
        lost.manager_id,
        managers.manager_name,
        managers.department_id,
        departments.department_name,
        lost.lost_reason,
        cast(lost.lost_count as bigint) as lost_count,
        cast(lost.lost_rub as double precision) as lost_rub,
        cast(round(cast(100.0 * lost.lost_count / sum(lost.lost_count) over (
            partition by lost.month, lost.pipeline_id
        ) as numeric(38, 10)), 2) as double precision) as share_of_lost_pct

    from lost

    left join pipelines
        on lost.pipeline_id = pipelines.pipeline_id

    left join managers
        on lost.manager_id = managers.manager_id

    left join departments
        on managers.department_id = departments.department_id

)

select * from final
