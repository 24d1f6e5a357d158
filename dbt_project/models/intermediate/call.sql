-- Canonical call (DOMAIN.md): direction, answered, start, duration, manager, client phone hash and
-- the lead or deal it belongs to. Today: the CRM's call activities (answered = it lasted); the
-- telephony source adds its rows (with the hashed client number) to the union below.

with

activities as (

    select * from {{ ref('activity') }}

),

crm_calls as (

    select
        'bitrix24:' || cast(activity_id as varchar) as call_id,
        direction,
        coalesce(duration_minutes, 0) > 0 as is_answered,
        occurred_at as started_at,
        day,
        cast(coalesce(duration_minutes, 0) as double precision) as duration_minutes,
        manager_id,
        cast(null as varchar) as client_phone_hash,
        owner_type as entity_type,
        owner_id as entity_id,
        'bitrix24' as crm_source

    from activities
    where activity_type = 'call'

),

final as (

    select * from crm_calls

)

select * from final
