-- Plan vs actual (docs/KPI.md): month x manager x pipeline. Actual = won deals' rubles by the business
-- month of their close; a full outer join keeps plan lines without sales and sales without a plan.
-- Added columns: average deal size (won rubles / won count), the deal cycle of the won deals
-- (closed - created, days: median and mean), the cash view (1C payments of the
-- line's deals by payment month; null until 1C lands), the bonus (plan line's rule, else vars
-- bonus_threshold_pct / bonus_rub: paid in full when fulfilment reaches the threshold; plus the
-- highest deal-count tier reached, var bonus_deal_tiers, in bonus_tier_rub; bonus_total_rub), and the
-- department and company roll-ups of the month as columns (the grain stays month x manager x pipeline,
-- so sums over rows stay sums of deals).
{%- set tiers = var('bonus_deal_tiers', []) or [] %}

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

payments as (

    select * from {{ ref('payment') }}

),

cash as (

    select
        {{ month_start('payments.paid_day') }} as month,
        deals.manager_id,
        deals.pipeline_id,
        sum(payments.amount_rub) as cash_actual_rub

    from payments

    inner join deals
        on payments.deal_id = deals.deal_id

    group by 1, 2, 3

),

plan_rules as (

    select
        month,
        manager_id,
        pipeline_id,
        sum(plan_deal_count) as plan_deal_count,
        max(bonus_threshold_pct) as bonus_threshold_pct,
        max(bonus_rub) as bonus_rub

    from plan
    group by month, manager_id, pipeline_id

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
        count(*) as won_count,
        {{ median('cycle_days') }} as median_cycle_days,
        avg(cycle_days) as mean_cycle_days

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
        coalesce(won.won_count, 0) as won_count,
        won.median_cycle_days,
        won.mean_cycle_days

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
        cast(greatest(measured.plan_rub - measured.actual_rub, 0) as double precision) as remaining_rub,
        cast(measured.actual_rub / nullif(measured.won_count, 0) as double precision) as avg_deal_rub,
        cast(plan_rules.plan_deal_count as bigint) as plan_deal_count,
        cast(measured.median_cycle_days as double precision) as median_cycle_days,
        cast(measured.mean_cycle_days as double precision) as mean_cycle_days,
        cast(cash.cash_actual_rub as double precision) as cash_actual_rub,
        cast(coalesce(plan_rules.bonus_threshold_pct, {{ var('bonus_threshold_pct') }}) as double precision)
            as bonus_threshold_pct,
        cast(
            case
                when measured.fulfilment_pct >= coalesce(plan_rules.bonus_threshold_pct, {{ var('bonus_threshold_pct') }})
                    then coalesce(plan_rules.bonus_rub, {{ var('bonus_rub') }})
                else 0
            end as double precision
        ) as bonus_earned_rub,
        cast({{ deal_tier_bonus('measured.won_count', tiers) }} as double precision) as bonus_tier_rub,
        cast(
            case
                when measured.fulfilment_pct >= coalesce(plan_rules.bonus_threshold_pct, {{ var('bonus_threshold_pct') }})
                    then coalesce(plan_rules.bonus_rub, {{ var('bonus_rub') }})
                else 0
            end + {{ deal_tier_bonus('measured.won_count', tiers) }} as double precision
        ) as bonus_total_rub,
        cast(sum(measured.plan_rub) over (partition by measured.month, managers.department_id) as double precision)
            as department_plan_rub,
        cast(sum(measured.actual_rub) over (partition by measured.month, managers.department_id) as double precision)
            as department_actual_rub,
        cast(round(cast(100.0 * sum(measured.actual_rub) over (partition by measured.month, managers.department_id)
            / nullif(sum(measured.plan_rub) over (partition by measured.month, managers.department_id), 0)
            as numeric(38, 10)), 2) as double precision) as department_fulfilment_pct,
        cast(sum(measured.plan_rub) over (partition by measured.month) as double precision) as company_plan_rub,
        cast(sum(measured.actual_rub) over (partition by measured.month) as double precision) as company_actual_rub,
        cast(round(cast(100.0 * sum(measured.actual_rub) over (partition by measured.month)
            / nullif(sum(measured.plan_rub) over (partition by measured.month), 0)
            as numeric(38, 10)), 2) as double precision) as company_fulfilment_pct

    from measured

    left join plan_rules
        on measured.month = plan_rules.month
        and measured.manager_id = plan_rules.manager_id
        and measured.pipeline_id = plan_rules.pipeline_id

    left join cash
        on measured.month = cash.month
        and measured.manager_id = cash.manager_id
        and measured.pipeline_id = cash.pipeline_id

    left join managers
        on measured.manager_id = managers.manager_id

    left join departments
        on managers.department_id = departments.department_id

    left join pipelines
        on measured.pipeline_id = pipelines.pipeline_id

)

select * from final
