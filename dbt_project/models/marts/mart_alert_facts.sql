-- The inputs of DOMAIN.md's alert rules, day x rule x subject, so alerts are SQL, not Python:
-- `value` against `usual_value`, `deviation_pct` = (value - usual) / usual x 100, the rule's
-- `threshold` and whether it fires. Thresholds are vars (dbt_project.yml).
--   kpi_deviation    company / department / manager: month-to-date won rubles against the plan's pace
--                    (plan x day of month / days in month); fires when |deviation| > 10 %
--   conversion_drop  manager: win rate of the deals closed in the 7 days through the day against the
--                    28 days before them; fires when it is more than 20 % below
--   zero_activity    manager, working day: done activities before 13:00 (local); fires at 0
--   no_new_leads     company, working day: the longest stretch of working hours (9-18, Mon-Fri)
--                    without a new lead, in hours; fires above 4
--   overdue_deals    manager, as of var as_of_day: open deals past their expected close date or
--                    forgotten (mart_forgotten); fires above 0
-- Not yet computable (their sources are landing): budget overrun (ad spend), stage conversion drop
-- (stage history), missed-call registry (telephony); the anomaly rule lives in the ML stage.

with

plan as (

    select * from {{ ref('plan') }}

),

deals as (

    select * from {{ ref('deal') }}

),

leads as (

    select * from {{ ref('lead') }}

),

managers as (

    select * from {{ ref('manager') }}

),

departments as (

    select * from {{ ref('department') }}

),

activities as (

    select * from {{ ref('activity') }}

),

daily as (

    select * from {{ ref('mart_manager_daily') }}

),

calendar as (

    select * from {{ ref('calendar') }}

),

forgotten as (

    select * from {{ ref('mart_forgotten') }}

),

mart_deals as (

    select * from {{ ref('mart_deals') }}

),

------------------------------------------------------------------ kpi_deviation
plan_scopes as (

    select plan.month, 'company' as subject_type, cast(0 as bigint) as subject_id, sum(plan.plan_rub) as plan_rub
    from plan group by plan.month
    union all
    select plan.month, 'department', managers.department_id, sum(plan.plan_rub)
    from plan inner join managers on plan.manager_id = managers.manager_id
    where managers.department_id is not null
    group by plan.month, managers.department_id
    union all
    select plan.month, 'manager', plan.manager_id, sum(plan.plan_rub)
    from plan group by plan.month, plan.manager_id

),

won_scopes as (

    select deals.closed_day as day, 'company' as subject_type, cast(0 as bigint) as subject_id, deals.amount_rub
    from deals where deals.is_won
    union all
    select deals.closed_day, 'department', managers.department_id, deals.amount_rub
    from deals inner join managers on deals.manager_id = managers.manager_id
    where deals.is_won
    union all
    select deals.closed_day, 'manager', deals.manager_id, deals.amount_rub
    from deals where deals.is_won

),

kpi_days as (

    select
        calendar.day,
        plan_scopes.subject_type,
        plan_scopes.subject_id,
        plan_scopes.plan_rub,
        cast(extract(day from calendar.day) as integer) as day_of_month,
        cast(extract(day from {{ shift_months('plan_scopes.month', 1) }} - 1) as integer) as days_in_month

    from plan_scopes

    inner join calendar
        on calendar.month = plan_scopes.month

    where plan_scopes.plan_rub > 0

),

kpi_deviation as (

    select
        kpi_days.day,
        'kpi_deviation' as rule,
        kpi_days.subject_type,
        kpi_days.subject_id,
        'revenue_mtd_rub' as metric,
        cast(coalesce(sum(won_scopes.amount_rub), 0) as double precision) as value,
        cast(kpi_days.plan_rub * kpi_days.day_of_month / kpi_days.days_in_month as double precision)
            as usual_value,
        cast({{ var('alert_kpi_deviation_pct') }} as double precision) as threshold

    from kpi_days

    left join won_scopes
        on kpi_days.subject_type = won_scopes.subject_type
        and kpi_days.subject_id = won_scopes.subject_id
        and won_scopes.day between {{ month_start('kpi_days.day') }} and kpi_days.day

    group by kpi_days.day, kpi_days.subject_type, kpi_days.subject_id, kpi_days.plan_rub,
        kpi_days.day_of_month, kpi_days.days_in_month

),

------------------------------------------------------------------ conversion_drop
closing_windows as (

    select
        day,
        manager_id,
        sum(won_count) over last_7d as won_7d,
        sum(won_count + lost_count) over last_7d as closed_7d,
        sum(won_count) over prior_4w as won_28d,
        sum(won_count + lost_count) over prior_4w as closed_28d

    from daily

    window
        last_7d as (partition by manager_id order by day rows between 6 preceding and current row),
        prior_4w as (partition by manager_id order by day rows between 34 preceding and 7 preceding)

),

conversion_drop as (

    select
        day,
        'conversion_drop' as rule,
        'manager' as subject_type,
        manager_id as subject_id,
        'win_rate_7d_pct' as metric,
        cast(100.0 * won_7d / closed_7d as double precision) as value,
        cast(100.0 * won_28d / closed_28d as double precision) as usual_value,
        cast({{ var('alert_conversion_drop_pct') }} as double precision) as threshold

    from closing_windows
    where closed_7d > 0 and closed_28d > 0

),

------------------------------------------------------------------ zero_activity
morning_activity as (

    select
        manager_id,
        day,
        count(*) as activities

    from activities
    where is_done
        and extract(hour from {{ local_time('occurred_at') }}) < {{ var('alert_zero_activity_by_hour') }}
    group by 1, 2

),

zero_activity as (

    select
        daily.day,
        'zero_activity' as rule,
        'manager' as subject_type,
        daily.manager_id as subject_id,
        'activities_before_cutoff' as metric,
        cast(coalesce(morning_activity.activities, 0) as double precision) as value,
        cast(null as double precision) as usual_value,
        cast(0 as double precision) as threshold

    from daily

    left join morning_activity
        on daily.manager_id = morning_activity.manager_id
        and daily.day = morning_activity.day

    where extract(isodow from daily.day) < 6

),

------------------------------------------------------------------ no_new_leads
working_days as (

    select day from calendar where not is_weekend

),

lead_marks as (

    -- hours since midnight (local) of each lead that arrived within working hours on a working day
    select
        leads.created_day as day,
        extract(hour from {{ local_time('leads.created_at') }})
            + extract(minute from {{ local_time('leads.created_at') }}) / 60.0 as hour_mark

    from leads

    inner join working_days
        on leads.created_day = working_days.day

),

marks as (

    select day, cast({{ var('working_hours_start') }} as double precision) as hour_mark from working_days
    union all
    select day, cast({{ var('working_hours_end') }} as double precision) from working_days
    union all
    select day, cast(hour_mark as double precision) from lead_marks
    where hour_mark >= {{ var('working_hours_start') }} and hour_mark < {{ var('working_hours_end') }}

),

gaps as (

    select
        day,
        lead(hour_mark) over (partition by day order by hour_mark) - hour_mark as gap_hours

    from marks

),

no_new_leads as (

    select
        day,
        'no_new_leads' as rule,
        'company' as subject_type,
        cast(0 as bigint) as subject_id,
        'max_working_hours_without_lead' as metric,
        cast(round(cast(max(gap_hours) as numeric(38, 10)), 4) as double precision) as value,
        cast(null as double precision) as usual_value,
        cast({{ var('alert_no_leads_working_hours') }} as double precision) as threshold

    from gaps
    group by day

),

------------------------------------------------------------------ overdue_deals
overdue as (

    select manager_id, entity_id as deal_id
    from forgotten
    where entity_type = 'deal' and is_forgotten
    union
    select manager_id, deal_id
    from mart_deals
    where semantic = 'open' and expected_close_day < {{ as_of_day() }}

),

overdue_deals as (

    select
        {{ as_of_day() }} as day,
        'overdue_deals' as rule,
        'manager' as subject_type,
        manager_id as subject_id,
        'open_deals_overdue_or_forgotten' as metric,
        cast(count(*) as double precision) as value,
        cast(null as double precision) as usual_value,
        cast(0 as double precision) as threshold

    from overdue
    where manager_id is not null
    group by manager_id

),

unioned as (

    select * from kpi_deviation
    union all
    select * from conversion_drop
    union all
    select * from zero_activity
    union all
    select * from no_new_leads
    union all
    select * from overdue_deals

),

final as (

    select
        unioned.day,
        unioned.rule,
        unioned.subject_type,
        cast(unioned.subject_id as bigint) as subject_id,
        case unioned.subject_type
            when 'company' then 'Компания'
            when 'department' then departments.department_name
            when 'manager' then managers.manager_name
        end as subject_name,
        case when unioned.subject_type = 'manager' then cast(unioned.subject_id as bigint) end as owner_manager_id,
        unioned.metric,
        unioned.value,
        unioned.usual_value,
        cast(round(cast(100.0 * (unioned.value - unioned.usual_value) / nullif(unioned.usual_value, 0)
            as numeric(38, 10)), 4) as double precision) as deviation_pct,
        unioned.threshold,
        case unioned.rule
            when 'kpi_deviation' then
                abs(100.0 * (unioned.value - unioned.usual_value) / nullif(unioned.usual_value, 0)) > unioned.threshold
            when 'conversion_drop' then
                unioned.value < unioned.usual_value * (1 - unioned.threshold / 100.0)
            when 'zero_activity' then unioned.value <= unioned.threshold
            when 'no_new_leads' then unioned.value > unioned.threshold
            when 'overdue_deals' then unioned.value > unioned.threshold
        end as is_firing

    from unioned

    left join departments
        on unioned.subject_type = 'department' and unioned.subject_id = departments.department_id

    left join managers
        on unioned.subject_type = 'manager' and unioned.subject_id = managers.manager_id

)

select * from final
