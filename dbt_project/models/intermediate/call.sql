-- Canonical call (DOMAIN.md): direction, answered, start, duration, manager, client phone hash and
-- the lead or deal it belongs to. Every call system records the same calls, so one source wins, the
-- most complete one present: the telephony export (it also holds the calls nobody logged in the
-- CRM), else Bitrix24 telephony statistics (voximplant.statistic.get), else the CRMs' own call
-- records (Bitrix24 call activities, amoCRM call notes).

with

telephony as (

    select * from {{ ref('stg_telephony__calls') }}

),

voximplant as (

    select * from {{ ref('stg_bitrix24__calls') }}

),

activities as (

    select * from {{ ref('activity') }}

),

amocrm as (

    select * from {{ ref('stg_amocrm__calls') }}

),

telephony_calls as (

    select
        'telephony:' || call_id as call_id,
        case when direction in ('in', 'incoming', 'inbound') then 'in' else 'out' end as direction,
        is_answered,
        started_at,
        cast(duration_sec as double precision) / 60 as duration_minutes,
        manager_id,
        client_phone_hash,
        cast(null as varchar) as entity_type,
        cast(null as bigint) as entity_id,
        'telephony' as crm_source

    from telephony
    where call_id is not null

),

voximplant_calls as (

    select
        'bitrix24_call:' || cast(call_id as varchar) as call_id,
        direction,
        is_answered,
        started_at,
        cast(duration_sec as double precision) / 60 as duration_minutes,
        manager_id,
        client_phone_hash,
        lower(crm_entity_type) as entity_type,
        crm_entity_id as entity_id,
        'bitrix24' as crm_source

    from voximplant
    where call_id is not null
        and not exists (select 1 from telephony_calls)

),

crm_calls as (

    select
        crm_source || ':' || cast(activity_id as varchar) as call_id,
        direction,
        coalesce(duration_minutes, 0) > 0 as is_answered,
        occurred_at as started_at,
        cast(coalesce(duration_minutes, 0) as double precision) as duration_minutes,
        manager_id,
        cast(null as varchar) as client_phone_hash,
        owner_type as entity_type,
        owner_id as entity_id,
        crm_source

    from activities
    -- amoCRM's calls are in activity too (from the same notes, read directly below)
    where activity_type = 'call'
        and crm_source <> 'amocrm'

    union all

    select
        'amocrm:' || cast(call_id as varchar) as call_id,
        case when direction = 'incoming' then 'in' else 'out' end as direction,
        is_answered,
        called_at as started_at,
        cast(coalesce(duration_seconds, 0) as double precision) / 60 as duration_minutes,
        manager_id,
        phone_hash as client_phone_hash,
        'lead' as entity_type,
        lead_id as entity_id,
        'amocrm' as crm_source

    from amocrm
    where call_id is not null
        -- only when amoCRM is the company's CRM (var crm): the demo amoCRM portal mirrors Bitrix24's
        and {{ crm_is('amocrm') }}

),

chosen as (

    select * from telephony_calls
    union all
    select * from voximplant_calls
    union all
    select * from crm_calls
    where not exists (select 1 from telephony_calls)
        and not exists (select 1 from voximplant_calls)

),

final as (

    select
        call_id,
        direction,
        is_answered,
        started_at,
        {{ business_day('started_at') }} as day,
        duration_minutes,
        manager_id,
        client_phone_hash,
        entity_type,
        entity_id,
        crm_source

    from chosen

)

select * from final
