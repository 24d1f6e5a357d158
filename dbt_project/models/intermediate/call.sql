-- Canonical call (docs/KPI.md): direction, answered, start, duration, manager, client phone hash and
-- the lead or deal it belongs to. Every call system records the same calls, so one source wins, the
-- most complete one present: the telephony export (it also holds the calls nobody logged in the
-- CRM), else Bitrix24 telephony statistics (voximplant.statistic.get), else the CRMs' own call
-- records (Bitrix24 call activities, amoCRM call notes).
-- A large fact, so incremental like activity: each run merges only the calls of dlt loads newer than
-- the table's newest load_id (delete + insert on call_id); `dbt build --full-refresh` gives the same
-- rows. The tier is decided on every run from ALL the staged calls (macros/call_tier.sql), never
-- from the new loads alone (a run with no new telephony rows must not let voximplant calls in). When
-- the tier changes between runs (say telephony appears for the first time) the run takes every call
-- of the new tier, whatever its load, and the post-hook deletes the rows of any other tier: no
-- pre-hook (the table may not exist yet) and no manual full refresh needed; on a full refresh or a
-- run without a switch the post-hook deletes nothing. A CRM call activity that later stops being a
-- call stays until a full refresh (as in activity, rows are merged, never retracted).
{{ config(
    materialized='incremental',
    unique_key='call_id',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where {{ call_tier_of('call_id') }} <> ({{ call_source_tier() }})"
) }}

with

tier as (

    -- the tier now, and (incremental) the tier and newest load the table holds: rebuild on a switch
    select
        {{ call_source_tier() }} as current_tier
        {% if is_incremental() %},
        (select {{ call_tier_of('call_id') }} from {{ this }} limit 1) as stored_tier,
        (select coalesce(max(load_id), '') from {{ this }}) as max_load_id
        {% endif %}

),

{% set new_rows_only %}
    {% if is_incremental() %}
    where load_id > (select max_load_id from tier)
        or (select stored_tier is distinct from current_tier from tier)
    {% endif %}
{% endset %}

telephony as (

    select * from {{ ref('stg_telephony__calls') }}
    {{ new_rows_only }}

),

voximplant as (

    select * from {{ ref('stg_bitrix24__calls') }}
    {{ new_rows_only }}

),

activities as (

    select * from {{ ref('activity') }}
    {{ new_rows_only }}

),

amocrm as (

    select * from {{ ref('stg_amocrm__calls') }}
    {{ new_rows_only }}

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
        'telephony' as crm_source,
        cast(load_id as varchar) as load_id

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
        'bitrix24' as crm_source,
        cast(load_id as varchar) as load_id

    from voximplant
    where call_id is not null
        -- the tier from all staged calls (telephony_calls holds only the new ones when incremental)
        and (select current_tier from tier) = 'voximplant'

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
        crm_source,
        cast(load_id as varchar) as load_id

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
        'amocrm' as crm_source,
        cast(load_id as varchar) as load_id

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
    where (select current_tier from tier) = 'crm'

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
        crm_source,
        -- dlt load bookkeeping: the watermark of the next incremental run
        load_id

    from chosen

)

select * from final
