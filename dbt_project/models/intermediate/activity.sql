-- Canonical activity: what a manager did, when (business day) and for how long. A large fact, so
-- incremental: each run merges only the rows of dlt loads newer than the table's newest (delete +
-- insert on activity_id); `dbt build --full-refresh` rebuilds it and gives the same rows.
-- Bitrix24 TYPE_ID: 1 meeting, 2 call, 3 task, 4 email, 6 provider item (open-line chats are
-- messages); DIRECTION 1 in, 2 out; OWNER_TYPE_ID: 1 lead, 2 deal, 3 contact, 4 company.
-- From the company's one CRM (var crm, macros/crm.sql). amoCRM: call notes (call_in / call_out; the
-- call's start and length) and tasks (done or planned, on a lead = 'deal', contact or company); the
-- two id spaces share one key: activity_id = 2 x note id for a call, 2 x task id + 1 for a task.
-- Export files: the mapping's activities, ids the ingestion-time bigint surrogates; a type outside
-- the canonical list is 'other'; in/incoming/inbound and out/outgoing/outbound directions; done when
-- `completed` says yes (y, yes, true, 1, done, completed), or, when it is blank, for all but tasks.
-- Switching var crm on a built warehouse needs `dbt build --full-refresh` (incremental table).
{{ config(materialized='incremental', unique_key='activity_id', incremental_strategy='delete+insert') }}

with

bitrix24 as (

    select * from {{ ref('stg_bitrix24__activities') }}
    {% if is_incremental() %}
    where load_id > (select coalesce(max(load_id), '') from {{ this }})
    {% endif %}

),

amocrm_calls as (

    select * from {{ ref('stg_amocrm__calls') }}
    where {{ crm_is('amocrm') }}
        and call_id is not null
    {% if is_incremental() %}
        and load_id > (select coalesce(max(load_id), '') from {{ this }})
    {% endif %}

),

amocrm_tasks as (

    select * from {{ ref('stg_amocrm__tasks') }}
    where {{ crm_is('amocrm') }}
        and task_id is not null
    {% if is_incremental() %}
        and load_id > (select coalesce(max(load_id), '') from {{ this }})
    {% endif %}

),

export_activities as (

    select * from {{ ref('stg_export__activities') }}
    where {{ crm_is('export') }}
        and activity_id_key is not null
    {% if is_incremental() %}
        and load_id > (select coalesce(max(load_id), '') from {{ this }})
    {% endif %}

),

bitrix24_unified as (

    select
        activity_id,
        manager_id,
        case
            when type_id = 1 then 'meeting'
            when type_id = 2 then 'call'
            when type_id = 3 then 'task'
            when type_id = 4 then 'email'
            when type_id = 6 and upper(coalesce(provider_id, '')) like 'IMOPENLINES%' then 'message'
            when type_id = 6 then 'provider'
            else 'other'
        end as activity_type,
        case direction_id
            when 1 then 'in'
            when 2 then 'out'
        end as direction,
        is_completed,
        case owner_type_id
            when 1 then 'lead'
            when 2 then 'deal'
            when 3 then 'contact'
            when 4 then 'company'
            else 'other'
        end as owner_type,
        owner_id,
        provider_id,
        subject,
        created_at,
        start_at,
        end_at,
        deadline_at,
        load_id,
        'bitrix24' as crm_source

    from bitrix24
    where {{ crm_is('bitrix24') }}

),

amocrm_unified as (

    select
        2 * call_id as activity_id,
        manager_id,
        'call' as activity_type,
        case direction when 'incoming' then 'in' when 'outgoing' then 'out' end as direction,
        true as is_completed,
        'deal' as owner_type,
        lead_id as owner_id,
        cast(null as varchar) as provider_id,
        call_result as subject,
        called_at as created_at,
        called_at as start_at,
        called_at + coalesce(duration_seconds, 0) * interval '1 second' as end_at,
        cast(null as timestamp with time zone) as deadline_at,
        load_id,
        'amocrm' as crm_source

    from amocrm_calls

    union all

    select
        2 * task_id + 1 as activity_id,
        manager_id,
        'task' as activity_type,
        cast(null as varchar) as direction,
        is_completed,
        case entity_type
            when 'leads' then 'deal'
            when 'contacts' then 'contact'
            when 'companies' then 'company'
            else 'other'
        end as owner_type,
        entity_id as owner_id,
        cast(null as varchar) as provider_id,
        task_text as subject,
        created_at,
        cast(null as timestamp with time zone) as start_at,
        cast(null as timestamp with time zone) as end_at,
        deadline_at,
        load_id,
        'amocrm' as crm_source

    from amocrm_tasks

),

export_unified as (

    select
        activity_id_key as activity_id,
        manager_key as manager_id,
        case
            when activity_type in ('meeting', 'call', 'task', 'email', 'message', 'comment') then activity_type
            else 'other'
        end as activity_type,
        case
            when direction in ('in', 'incoming', 'inbound') then 'in'
            when direction in ('out', 'outgoing', 'outbound') then 'out'
        end as direction,
        coalesce(
            lower(completed) in ('y', 'yes', 'true', '1', 'done', 'completed'),
            activity_type is distinct from 'task'
        ) as is_completed,
        case
            when deal_id_key is not null then 'deal'
            when lead_id_key is not null then 'lead'
            else 'other'
        end as owner_type,
        coalesce(deal_id_key, lead_id_key) as owner_id,
        cast(null as varchar) as provider_id,
        subject,
        occurred_at as created_at,
        occurred_at as start_at,
        occurred_at + coalesce(duration_seconds, 0) * interval '1 second' as end_at,
        cast(null as timestamp with time zone) as deadline_at,
        load_id,
        'export' as crm_source

    from export_activities

),

unified as (

    select * from bitrix24_unified
    union all
    select * from amocrm_unified
    union all
    select * from export_unified

),

final as (

    select
        unified.*,
        -- when it happened: the start of a call or meeting, else when it was created
        coalesce(start_at, created_at) as occurred_at,
        {{ business_day('coalesce(start_at, created_at)') }} as day,
        case
            when end_at >= start_at
                then cast(extract(epoch from (end_at - start_at)) / 60.0 as numeric(18, 2))
        end as duration_minutes,
        {{ business_day('deadline_at') }} as deadline_day,
        -- an open task is planned, not done: it is not an activity for "forgotten" or the index
        (activity_type <> 'task' or is_completed) as is_done

    from unified

)

select * from final
