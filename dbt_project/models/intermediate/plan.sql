-- Canonical plan: month x manager x pipeline, rubles and deal count, with the bonus rule.

with

plan_lines as (

    select * from {{ ref('stg_plan__plan') }}

),

final as (

    select
        month,
        manager_id,
        pipeline_id,
        plan_rub,
        plan_deal_count,
        bonus_threshold_pct,
        bonus_rub

    from plan_lines

)

select * from final
