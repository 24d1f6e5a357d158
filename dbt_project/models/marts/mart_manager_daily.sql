-- A manager's day (business day, company time zone): leads received, deals created and won, and
-- activity counts. Dense: every manager gets a row for every day from their first CRM event to the
-- last day of the data (active managers) or their own last event (inactive ones), zeros included,
-- so "no activity today" is a row with zeros, which the anomaly model and the report need.
--   calls_out / calls_in  call activities by direction (answered or not)
--   call_minutes          summed call durations (END_TIME - START_TIME)
--   emails, meetings      e-mail and meeting activities
--   tasks_done            completed tasks
--   activities_total      every activity except open (not completed) tasks
--   lost_count            deals lost that day
--   calls_missed          inbound calls not answered (no duration)
--   messages              open-line chat messages; comments (timeline comments, when a source has them)
--   tasks_overdue         open tasks whose deadline fell on that day and has passed (as of var as_of_day)
--   activity_points       meeting 5, call 2, e-mail 1, message 1, task done 1, comment 0.5 (var activity_points);
--                         a missed inbound call earns none
--   activity_index        100 x the manager's points / all managers' points that day
--   activity_minutes      call minutes + 0.5 (var activity_minutes_per_message) per message or e-mail
--   median_response_minutes  median minutes from creation to the first outgoing call / e-mail /
--                         message, over the leads and deals the manager got that day
--   calls_out_norm        var outgoing_call_norm (40); calls_out_norm_met on working days, null on weekends

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

responses as (

    select * from {{ ref('int_first_response') }}

),

lost_days as (

    select
        manager_id,
        closed_day as day,
        count(*) as lost_count

    from deals
    where is_lost
    group by 1, 2

),

response_days as (

    select
        manager_id,
        created_day as day,
        {{ median('response_minutes') }} as median_response_minutes

    from responses
    where response_minutes is not null
    group by 1, 2

),

overdue_days as (

    select
        manager_id,
        deadline_day as day,
        count(*) as tasks_overdue

    from activities
    where activity_type = 'task'
        and not is_completed
        and deadline_day < {{ as_of_day() }}
    group by 1, 2

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
        sum(case when activity_type <> 'task' or is_completed then 1 else 0 end) as activities_total,
        sum(case when activity_type = 'call' and direction = 'in' and coalesce(duration_minutes, 0) = 0
            then 1 else 0 end) as calls_missed,
        sum(case when activity_type = 'message' then 1 else 0 end) as messages,
        sum(case when activity_type = 'comment' then 1 else 0 end) as comments,
        -- a missed inbound call (no duration) is no work done: no points
        sum(case when activity_type = 'call' and direction = 'in' and coalesce(duration_minutes, 0) = 0 then 0
            else {{ activity_points('activity_type', 'is_completed') }} end) as activity_points

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
    union all
    select manager_id, day from lost_days

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

joined as (

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
        cast(coalesce(activity_days.activities_total, 0) as bigint) as activities_total,
        cast(coalesce(lost_days.lost_count, 0) as bigint) as lost_count,
        cast(coalesce(activity_days.calls_missed, 0) as bigint) as calls_missed,
        cast(coalesce(activity_days.messages, 0) as bigint) as messages,
        cast(coalesce(activity_days.comments, 0) as bigint) as comments,
        cast(coalesce(overdue_days.tasks_overdue, 0) as bigint) as tasks_overdue,
        cast(coalesce(activity_days.activity_points, 0) as double precision) as activity_points,
        cast(response_days.median_response_minutes as double precision) as median_response_minutes,
        extract(isodow from grid.day) >= 6 as is_weekend

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

    left join lost_days
        on grid.manager_id = lost_days.manager_id and grid.day = lost_days.day

    left join overdue_days
        on grid.manager_id = overdue_days.manager_id and grid.day = overdue_days.day

    left join response_days
        on grid.manager_id = response_days.manager_id and grid.day = response_days.day

),

final as (

    select
        joined.day,
        joined.manager_id,
        joined.manager_name,
        joined.department_id,
        joined.leads_assigned,
        joined.deals_created,
        joined.won_count,
        joined.won_rub,
        joined.calls_out,
        joined.calls_in,
        joined.call_minutes,
        joined.emails,
        joined.meetings,
        joined.tasks_done,
        joined.activities_total,
        joined.lost_count,
        joined.calls_missed,
        joined.messages,
        joined.comments,
        joined.tasks_overdue,
        joined.activity_points,
        cast(round(cast(coalesce(100.0 * joined.activity_points / nullif(
            sum(joined.activity_points) over (partition by joined.day), 0), 0) as numeric(38, 10)), 4)
            as double precision) as activity_index,
        cast(joined.call_minutes + {{ var('activity_minutes_per_message') }} * (joined.emails + joined.messages)
            as double precision) as activity_minutes,
        joined.median_response_minutes,
        cast({{ var('outgoing_call_norm') }} as bigint) as calls_out_norm,
        case when not joined.is_weekend then joined.calls_out >= {{ var('outgoing_call_norm') }} end
            as calls_out_norm_met

    from joined

)

select * from final
