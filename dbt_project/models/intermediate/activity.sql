-- Canonical activity: what a manager did, when (business day) and for how long. A large fact, so
-- incremental: each run merges only the rows of dlt loads newer than the table's newest (delete +
-- insert on activity_id); `dbt build --full-refresh` rebuilds it and gives the same rows.
-- Bitrix24 TYPE_ID: 1 meeting, 2 call, 3 task, 4 email, 6 provider item (open-line chats are
-- messages); DIRECTION 1 in, 2 out; OWNER_TYPE_ID: 1 lead, 2 deal, 3 contact, 4 company.
-- Other CRMs (amoCRM notes, export files) add their staging rows to the union below.
{{ config(materialized='incremental', unique_key='activity_id', incremental_strategy='delete+insert') }}

with

bitrix24 as (

    select * from {{ ref('stg_bitrix24__activities') }}
    {% if is_incremental() %}
    where load_id > (select coalesce(max(load_id), '') from {{ this }})
    {% endif %}

),

unified as (

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
