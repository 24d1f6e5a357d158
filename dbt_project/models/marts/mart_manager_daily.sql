-- A manager's day (business day, company time zone): leads received, deals created and won, and
-- activity counts. Dense: every manager gets a row for every day from their first CRM event to the
-- last day of the data (active managers) or their own last event (inactive ones), zeros included,
-- so "no activity today" is a row with zeros, which the anomaly model and the report need.
--   calls_out / calls_in  call activities by direction (answered or not)
--   call_minutes          summed call durations (END_TIME - START_TIME)
--   emails, meetings      e-mail and meeting activities
--   tasks_done            completed tasks
--   activities_total      every activity except open (not completed) tasks

with

managers as (

    select * from {{ ref('manager') }}

),

deals as (

    select * from {{ ref('deal') }}

),

leads as (

    select * from {{ ref('lead') }}

),

activities as (

    select * from {{ ref('activity') }}

),

calendar as (

    select * from {{ ref('calendar') }}

),

lead_days as (

    select
        manager_id,
        created_day as day,
        count(*) as leads_assigned

    from leads
    group by 1, 2

),

created_days as (

    select
        manager_id,
        created_day as day,
        count(*) as deals_created

    from deals
    group by 1, 2

),

won_days as (

    select
        manager_id,
        closed_day as day,
        count(*) as won_count,
        sum(amount_rub) as won_rub

    from deals
    where is_won
    group by 1, 2

),

activity_days as (

    select
        manager_id,
        day,
        sum(case when activity_type = 'call' and direction = 'out' then 1 else 0 end) as calls_out,
        sum(case when activity_type = 'call' and direction = 'in' then 1 else 0 end) as calls_in,
        sum(case when activity_type = 'call' then coalesce(duration_minutes, 0) else 0 end) as call_minutes,
        sum(case when activity_type = 'email' then 1 else 0 end) as emails,
        sum(case when activity_type = 'meeting' then 1 else 0 end) as meetings,
        sum(case when activity_type = 'task' and is_completed then 1 else 0 end) as tasks_done,
        sum(case when activity_type <> 'task' or is_completed then 1 else 0 end) as activities_total

    from activities
    group by 1, 2

),

event_days as (

    select manager_id, day from lead_days
    union all
    select manager_id, day from created_days
    union all
    select manager_id, day from won_days
    union all
    select manager_id, day from activity_days

),

manager_spans as (

    select
        event_days.manager_id,
        min(event_days.day) as first_day,
        case
            when coalesce(max(cast(managers.is_active as integer)), 1) = 1
                then (select max(day) from calendar)
            else max(event_days.day)
        end as last_day

    from event_days

    left join managers
        on event_days.manager_id = managers.manager_id

    where event_days.manager_id is not null and event_days.day is not null
    group by event_days.manager_id

),

grid as (

    select
        calendar.day,
        manager_spans.manager_id

    from manager_spans

    inner join calendar
        on calendar.day between manager_spans.first_day and manager_spans.last_day

),

final as (

    select
        grid.day,
        grid.manager_id,
        managers.manager_name,
        managers.department_id,
        cast(coalesce(lead_days.leads_assigned, 0) as bigint) as leads_assigned,
        cast(coalesce(created_days.deals_created, 0) as bigint) as deals_created,
        cast(coalesce(won_days.won_count, 0) as bigint) as won_count,
        cast(coalesce(won_days.won_rub, 0) as double precision) as won_rub,
        cast(coalesce(activity_days.calls_out, 0) as bigint) as calls_out,
        cast(coalesce(activity_days.calls_in, 0) as bigint) as calls_in,
        cast(coalesce(activity_days.call_minutes, 0) as double precision) as call_minutes,
        cast(coalesce(activity_days.emails, 0) as bigint) as emails,
        cast(coalesce(activity_days.meetings, 0) as bigint) as meetings,
        cast(coalesce(activity_days.tasks_done, 0) as bigint) as tasks_done,
        cast(coalesce(activity_days.activities_total, 0) as bigint) as activities_total

    from grid

    left join managers
        on grid.manager_id = managers.manager_id

    left join lead_days
        on grid.manager_id = lead_days.manager_id and grid.day = lead_days.day

    left join created_days
        on grid.manager_id = created_days.manager_id and grid.day = created_days.day

    left join won_days
        on grid.manager_id = won_days.manager_id and grid.day = won_days.day

    left join activity_days
        on grid.manager_id = activity_days.manager_id and grid.day = activity_days.day

)

select * from final
