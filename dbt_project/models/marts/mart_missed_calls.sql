-- Missed-call registry (docs/KPI.md): inbound calls not answered and not followed, within 24 hours,
-- by a connected call with the same client - lost contacts. The client is the hashed phone number
-- when the call source has it (telephony), else the lead / deal the CRM filed the call under.

with

calls as (

    select * from {{ ref('call') }}

),

managers as (

    select * from {{ ref('manager') }}

),

keyed as (

    select
        calls.*,
        coalesce(
            'phone:' || client_phone_hash,
            case when entity_id is not null and entity_type in ('lead', 'deal', 'contact', 'company')
                then entity_type || ':' || cast(entity_id as varchar) end
        ) as client_key

    from calls

),

missed as (

    select * from keyed
    where direction = 'in' and not is_answered

),

returned as (

    select distinct missed.call_id

    from missed

    inner join keyed as later
        on later.client_key = missed.client_key
        and later.is_answered
        and later.started_at > missed.started_at
        and later.started_at <= missed.started_at + interval '24 hour'

),

final as (

    select
        missed.call_id,
        missed.started_at,
        missed.day,
        missed.manager_id,
        managers.manager_name,
        managers.department_id,
        missed.client_phone_hash,
        missed.entity_type,
        missed.entity_id,
        missed.client_key,
        missed.crm_source

    from missed

    left join managers
        on missed.manager_id = managers.manager_id

    where missed.call_id not in (select call_id from returned)

)

select * from final
