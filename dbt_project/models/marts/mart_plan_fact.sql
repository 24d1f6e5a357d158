-- Plan vs actual (docs/KPI.md): month x manager x pipeline. Actual = won deals' rubles by the business
-- month of their close; a full outer join keeps plan lines without sales and sales without a plan.
-- Added columns: average deal size (won rubles / won count), the deal cycle of the won deals
-- (closed - created, days: median and mean), the cash view (1C payments of the
-- line's deals by payment month; null until 1C lands), the bonus (plan line's rule, else vars
-- bonus_threshold_pct / bonus_rub: paid in full when fulfilment reaches the threshold; plus the
-- highest deal-count tier reached, var bonus_deal_tiers, in bonus_tier_rub; bonus_total_rub), and the
-- manager, department and company roll-ups of the month as columns, each with its fulfilment % and
-- colour (the grain stays month x manager x pipeline, so sums over rows stay sums of deals).
-- Fulfilment and colour come from macros/plan.sql; the vars they use are columns too
-- (plan_red_below_pct, plan_green_from_pct, alert_kpi_deviation_pct), so the report prints its legend
-- and the insights judge the pace from the data rather than from a second copy of the rule.
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
        {{ fulfilment_pct('actual_rub', 'plan_rub') }} as fulfilment_pct

    from joined

),

lines as (

    select
        measured.*,
        managers.department_id,
        departments.department_name,
        managers.manager_name,
        pipelines.pipeline_name,
        plan_rules.plan_deal_count,
        plan_rules.bonus_threshold_pct as rule_bonus_threshold_pct,
        plan_rules.bonus_rub as rule_bonus_rub,
        cash.cash_actual_rub

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

),

rolled_up as (

    select
        lines.*,
        sum(plan_rub) over by_manager as manager_plan_rub,
        sum(actual_rub) over by_manager as manager_actual_rub,
        sum(won_count) over by_manager as manager_won_count,
        sum(won_count) over by_department as department_won_count,
        sum(plan_rub) over by_department as department_plan_rub,
        sum(actual_rub) over by_department as department_actual_rub,
        sum(plan_rub) over by_company as company_plan_rub,
        sum(actual_rub) over by_company as company_actual_rub

    from lines

    window
        by_manager as (partition by month, manager_id),
        by_department as (partition by month, department_id),
        by_company as (partition by month)

),

as_of as (

    select {{ as_of_day() }} as as_of_day

),

-- The pace expected by today (the same calendar-day pace as the kpi_deviation alert): the share of
-- the month gone by var as_of_day; 100 for past months, 0 for future ones.
paced as (

    select
        rolled_up.*,
        cast(
            case
                when rolled_up.month < {{ month_start('as_of.as_of_day') }} then 1.0
                when rolled_up.month > as_of.as_of_day then 0.0
                else 1.0 * extract(day from as_of.as_of_day)
                    / extract(day from {{ shift_months(month_start('as_of.as_of_day'), 1) }} - 1)
            end as double precision
        ) as expected_pace_share

    from rolled_up

    cross join as_of

),

scored as (

    select
        paced.*,
        {{ fulfilment_pct('manager_actual_rub', '(manager_plan_rub * expected_pace_share)') }} as manager_pace_pct,
        {{ fulfilment_pct('department_actual_rub', '(department_plan_rub * expected_pace_share)') }}
            as department_pace_pct,
        {{ fulfilment_pct('company_actual_rub', '(company_plan_rub * expected_pace_share)') }} as company_pace_pct,
        {{ fulfilment_pct('manager_actual_rub', 'manager_plan_rub') }} as manager_fulfilment_pct,
        {{ fulfilment_pct('department_actual_rub', 'department_plan_rub') }} as department_fulfilment_pct,
        {{ fulfilment_pct('company_actual_rub', 'company_plan_rub') }} as company_fulfilment_pct

    from paced

),

final as (

    select
        month,
        department_id,
        department_name,
        manager_id,
        manager_name,
        pipeline_id,
        pipeline_name,
        cast(plan_rub as double precision) as plan_rub,
        cast(actual_rub as double precision) as actual_rub,
        cast(won_count as bigint) as won_count,
        fulfilment_pct,
        {{ plan_colour('fulfilment_pct') }} as colour,
        cast(greatest(plan_rub - actual_rub, 0) as double precision) as remaining_rub,
        cast(actual_rub / nullif(won_count, 0) as double precision) as avg_deal_rub,
        cast(plan_deal_count as bigint) as plan_deal_count,
        cast(median_cycle_days as double precision) as median_cycle_days,
        cast(mean_cycle_days as double precision) as mean_cycle_days,
        cast(cash_actual_rub as double precision) as cash_actual_rub,
        cast(coalesce(rule_bonus_threshold_pct, {{ var('bonus_threshold_pct') }}) as double precision)
            as bonus_threshold_pct,
        cast(
            case
                when fulfilment_pct >= coalesce(rule_bonus_threshold_pct, {{ var('bonus_threshold_pct') }})
                    then coalesce(rule_bonus_rub, {{ var('bonus_rub') }})
                else 0
            end as double precision
        ) as bonus_earned_rub,
        cast({{ deal_tier_bonus('won_count', tiers) }} as double precision) as bonus_tier_rub,
        cast(
            case
                when fulfilment_pct >= coalesce(rule_bonus_threshold_pct, {{ var('bonus_threshold_pct') }})
                    then coalesce(rule_bonus_rub, {{ var('bonus_rub') }})
                else 0
            end + {{ deal_tier_bonus('won_count', tiers) }} as double precision
        ) as bonus_total_rub,
        cast(manager_plan_rub as double precision) as manager_plan_rub,
        cast(manager_actual_rub as double precision) as manager_actual_rub,
        cast(manager_won_count as bigint) as manager_won_count,
        manager_fulfilment_pct,
        {{ plan_colour('manager_fulfilment_pct') }} as manager_colour,
        cast(greatest(manager_plan_rub - manager_actual_rub, 0) as double precision) as manager_remaining_rub,
        cast(department_plan_rub as double precision) as department_plan_rub,
        cast(department_actual_rub as double precision) as department_actual_rub,
        department_fulfilment_pct,
        {{ plan_colour('department_fulfilment_pct') }} as department_colour,
        cast(company_plan_rub as double precision) as company_plan_rub,
        cast(company_actual_rub as double precision) as company_actual_rub,
        company_fulfilment_pct,
        {{ plan_colour('company_fulfilment_pct') }} as company_colour,
        cast(greatest(company_plan_rub - company_actual_rub, 0) as double precision) as company_remaining_rub,
        -- against the pace expected by today: actual / (plan x the share of the month gone), coloured by
        -- the same rule; the share itself as a percent for the page to print
        {{ fulfilment_pct('expected_pace_share', '1.0') }} as expected_pace_pct,
        manager_pace_pct,
        {{ plan_colour('manager_pace_pct') }} as manager_pace_colour,
        department_pace_pct,
        {{ plan_colour('department_pace_pct') }} as department_pace_colour,
        company_pace_pct,
        {{ plan_colour('company_pace_pct') }} as company_pace_colour,
        cast(department_won_count as bigint) as department_won_count,
        cast(greatest(department_plan_rub - department_actual_rub, 0) as double precision)
            as department_remaining_rub,
        -- the rules themselves, so a reader (the report's legend, the insights) quotes the same numbers
        cast({{ var('plan_red_below_pct') }} as double precision) as plan_red_below_pct,
        cast({{ var('plan_green_from_pct') }} as double precision) as plan_green_from_pct,
        cast({{ var('alert_kpi_deviation_pct') }} as double precision) as alert_kpi_deviation_pct

    from scored

)

select * from final
