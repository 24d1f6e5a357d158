-- Open leads and deals that need the head of sales' attention (docs/KPI.md), as of var as_of_day:
--   is_forgotten      no done activity for forgotten_lead_days (3) / forgotten_deal_days (14) days
--                     (counted from creation when there was never one)
--   is_without_task   no open task
--   overdue_tasks     open tasks past their deadline
-- One row per open lead or deal that is forgotten or without a task.

with

leads as (

    select * from {{ ref('lead') }}

),

deals as (

    select * from {{ ref('mart_deals') }}

),

activities as (

    select * from {{ ref('activity') }}

),

managers as (

    select * from {{ ref('manager') }}

),

as_of as (

    select {{ as_of_day() }} as as_of_day

),

entity_activity as (

    select
        activities.owner_type as entity_type,
        activities.owner_id as entity_id,
        max(case when activities.is_done then activities.day end) as last_activity_day,
        sum(case when activities.activity_type = 'task' and not activities.is_completed then 1 else 0 end)
            as open_tasks,
        sum(
            case
                when activities.activity_type = 'task' and not activities.is_completed
                    and activities.deadline_day < as_of.as_of_day then 1
                else 0
            end
        ) as overdue_tasks

    from activities

    cross join as_of

    where activities.owner_type in ('lead', 'deal')
    group by 1, 2

),

open_entities as (

    select
        'lead' as entity_type,
        lead_id as entity_id,
        lead_number as entity_number,
        cast(null as varchar) as title,
        manager_id,
        created_day,
        cast(null as double precision) as amount_rub,
        {{ var('forgotten_lead_days') }} as threshold_days,
        {{ crm_url('lead', 'lead_id') }} as crm_url

    from leads
    where status_semantic = 'open'

    union all

    select
        'deal' as entity_type,
        deal_id as entity_id,
        deal_number as entity_number,
        deal_title as title,
        manager_id,
        created_day,
        amount_rub,
        {{ var('forgotten_deal_days') }} as threshold_days,
        crm_url

    from deals
    where semantic = 'open'

),

measured as (

    select
        open_entities.*,
        entity_activity.last_activity_day,
        cast(as_of.as_of_day - greatest(
            open_entities.created_day,
            coalesce(entity_activity.last_activity_day, open_entities.created_day)
        ) as integer) as days_idle,
        cast(coalesce(entity_activity.open_tasks, 0) as bigint) as open_tasks,
        cast(coalesce(entity_activity.overdue_tasks, 0) as bigint) as overdue_tasks,
        as_of.as_of_day

    from open_entities

    cross join as_of

    left join entity_activity
        on open_entities.entity_type = entity_activity.entity_type
        and open_entities.entity_id = entity_activity.entity_id

    -- idle time is unknown without a creation day or any activity (an export's prospect with no
    -- dates, e.g. Maven's Prospecting deals): such a record cannot be called forgotten
    where coalesce(entity_activity.last_activity_day, open_entities.created_day) is not null

),

final as (

    select
        measured.as_of_day,
        measured.entity_type,
        measured.entity_id,
        measured.entity_number,
        measured.title,
        measured.manager_id,
        managers.manager_name,
        managers.department_id,
        measured.created_day,
        measured.last_activity_day,
        measured.days_idle,
        measured.threshold_days,
        measured.days_idle >= measured.threshold_days as is_forgotten,
        measured.open_tasks = 0 as is_without_task,
        measured.open_tasks,
        measured.overdue_tasks,
        measured.amount_rub,
        measured.crm_url

    from measured

    left join managers
        on measured.manager_id = managers.manager_id

    where measured.days_idle >= measured.threshold_days
        or measured.open_tasks = 0

)

select * from final
