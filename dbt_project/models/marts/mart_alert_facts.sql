-- The inputs of docs/KPI.md's alert rules, day x rule x subject, so alerts are SQL, not Python:
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
--   conversion_drop  stage (pipeline:stage): of the deals that left the stage in the 7 days through
--                    the day, the share that moved forward (a later stage or won), against the 28 days
--                    before; judged on exits, not entries, so young deals do not look like a drop.
--                    Fires when it is more than 20 % below, given at least var
--                    alert_stage_min_exits exits in each window
--   budget_overrun   channel with a monthly budget (var channel_monthly_budget_rub): month-to-date
--                    spend against the budget's pace (budget x day of month / days in month); fires
--                    above var alert_budget_overrun_pct over the pace
-- Sending (schedules/alert_rules.py) reads cooldown_days (var alert_cooldown_days, by rule),
-- min_day_of_month (vars alert_pace_min_day_of_month, alert_budget_min_day_of_month: the pace rules)
-- and final_from_hour.
-- `subject_key` names every subject as text (a manager's id, 'UC_YDIRECT', '1:C1:PREPARE'). The
-- anomaly rule lives in the ML stage; the missed-call registry is mart_missed_calls.
{%- set budgets = var('channel_monthly_budget_rub', {}) or {} %}

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

stage_history as (

    select * from {{ ref('stage_history') }}

),

ad_spend as (

    select * from {{ ref('ad_spend') }}

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

------------------------------------------------------------------ conversion_drop (stages)
stage_exits as (

    select
        entries.pipeline_id,
        entries.stage_id,
        entries.left_day as day,
        count(*) as exits,
        sum(case
            when nexts.stage_semantic = 'won' then 1
            when nexts.stage_semantic = 'lost' then 0
            when nexts.stage_sort > entries.stage_sort then 1
            else 0
        end) as advanced

    from stage_history as entries

    inner join stage_history as nexts
        on nexts.crm_source = entries.crm_source
        and nexts.deal_id = entries.deal_id
        and nexts.entry_number = entries.entry_number + 1

    where coalesce(entries.stage_semantic, 'open') not in ('won', 'lost')
    group by 1, 2, 3

),

stage_days as (

    select
        calendar.day,
        stages.pipeline_id,
        stages.stage_id,
        coalesce(stage_exits.exits, 0) as exits,
        coalesce(stage_exits.advanced, 0) as advanced

    from calendar

    cross join (select distinct pipeline_id, stage_id from stage_exits) as stages

    left join stage_exits
        on stage_exits.day = calendar.day
        and stage_exits.pipeline_id = stages.pipeline_id
        and stage_exits.stage_id = stages.stage_id

),

stage_windows as (

    select
        day,
        pipeline_id,
        stage_id,
        sum(advanced) over last_7d as advanced_7d,
        sum(exits) over last_7d as exits_7d,
        sum(advanced) over prior_4w as advanced_28d,
        sum(exits) over prior_4w as exits_28d

    from stage_days

    window
        last_7d as (partition by pipeline_id, stage_id order by day rows between 6 preceding and current row),
        prior_4w as (partition by pipeline_id, stage_id order by day rows between 34 preceding and 7 preceding)

),

stage_conversion_drop as (

    select
        day,
        'conversion_drop' as rule,
        'stage' as subject_type,
        cast(pipeline_id as bigint) as subject_id,
        cast(pipeline_id as varchar) || ':' || stage_id as subject_key,
        'stage_conversion_7d_pct' as metric,
        cast(100.0 * advanced_7d / exits_7d as double precision) as value,
        cast(100.0 * advanced_28d / exits_28d as double precision) as usual_value,
        cast({{ var('alert_conversion_drop_pct') }} as double precision) as threshold

    from stage_windows
    where exits_7d >= {{ var('alert_stage_min_exits') }} and exits_28d >= {{ var('alert_stage_min_exits') }}

),

------------------------------------------------------------------ budget_overrun
budgets as (

    {%- for channel, budget in budgets.items() %}
    select cast('{{ channel }}' as varchar) as channel, cast({{ budget }} as double precision) as budget_rub
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select cast(null as varchar) as channel, cast(null as double precision) as budget_rub
    where 1 = 0
    {%- endfor %}

),

channel_spend as (

    select
        day,
        channel,
        sum(cost_rub) as spend_rub

    from ad_spend
    group by 1, 2

),

budget_days as (

    select
        calendar.day,
        budgets.channel,
        budgets.budget_rub,
        cast(extract(day from calendar.day) as integer) as day_of_month,
        cast(extract(day from {{ shift_months(month_start('calendar.day'), 1) }} - 1) as integer) as days_in_month

    from calendar

    cross join budgets

),

budget_overrun as (

    select
        budget_days.day,
        'budget_overrun' as rule,
        'channel' as subject_type,
        cast(null as bigint) as subject_id,
        budget_days.channel as subject_key,
        'spend_mtd_rub' as metric,
        cast(coalesce(sum(channel_spend.spend_rub), 0) as double precision) as value,
        cast(budget_days.budget_rub * budget_days.day_of_month / budget_days.days_in_month as double precision)
            as usual_value,
        cast({{ var('alert_budget_overrun_pct') }} as double precision) as threshold

    from budget_days

    left join channel_spend
        on channel_spend.channel = budget_days.channel
        and channel_spend.day between {{ month_start('budget_days.day') }} and budget_days.day

    group by budget_days.day, budget_days.channel, budget_days.budget_rub,
        budget_days.day_of_month, budget_days.days_in_month

),

unioned as (

    {%- for rule in ['kpi_deviation', 'conversion_drop', 'zero_activity', 'no_new_leads', 'overdue_deals'] %}
    select day, rule, subject_type, subject_id, cast(subject_id as varchar) as subject_key, metric, value,
           usual_value, threshold
    from {{ rule }}
    union all
    {%- endfor %}
    select * from stage_conversion_drop
    union all
    select * from budget_overrun

),

final as (

    select
        unioned.day,
        unioned.rule,
        unioned.subject_type,
        cast(unioned.subject_id as bigint) as subject_id,
        unioned.subject_key,
        case unioned.subject_type
            when 'company' then 'Компания'
            when 'department' then departments.department_name
            when 'manager' then managers.manager_name
            when 'channel' then channels.channel_name
            when 'stage' then pipelines.pipeline_name || ': ' || stages.stage_name
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
            when 'budget_overrun' then unioned.value > unioned.usual_value * (1 + unioned.threshold / 100.0)
        end as is_firing,
        -- how the alert sensor sends a firing row (schedules/alert_rules.py): not again for the same
        -- rule and subject within cooldown_days; pace rules not before min_day_of_month; a row of a
        -- day still under way only once its window closed (final_from_hour, local), since a morning
        -- without activity or leads is not yet a day without them
        case unioned.rule
            {%- for rule, days in var('alert_cooldown_days').items() %}
            when '{{ rule }}' then {{ days }}
            {%- endfor %}
            else 1
        end as cooldown_days,
        case unioned.rule
            when 'kpi_deviation' then {{ var('alert_pace_min_day_of_month') }}
            when 'budget_overrun' then {{ var('alert_budget_min_day_of_month') }}
        end as min_day_of_month,
        case unioned.rule
            when 'zero_activity' then {{ var('alert_zero_activity_by_hour') }}
            when 'no_new_leads' then {{ var('working_hours_end') }}
        end as final_from_hour

    from unioned

    left join departments
        on unioned.subject_type = 'department' and unioned.subject_id = departments.department_id

    left join managers
        on unioned.subject_type = 'manager' and unioned.subject_id = managers.manager_id

    left join {{ ref('channel') }} as channels
        on unioned.subject_type = 'channel' and unioned.subject_key = channels.channel

    left join {{ ref('pipeline') }} as pipelines
        on unioned.subject_type = 'stage' and unioned.subject_id = pipelines.pipeline_id

    left join {{ ref('stage') }} as stages
        on unioned.subject_type = 'stage'
        and unioned.subject_key = cast(stages.pipeline_id as varchar) || ':' || stages.stage_id

)

select * from final
