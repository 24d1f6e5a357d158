-- One row per call of the portal's telephony log (voximplant.statistic.get): direction, answered,
-- start (UTC), duration, manager, the client's number as its salted hash (hashed on arrival), and
-- the CRM entity and activity it belongs to. Missed inbound calls from unknown numbers have no entity.
{% set cols = raw_source_columns('raw_bitrix24', 'calls') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'calls') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id', 'bigint')) }} as call_id,
        {{ raw_text(optional_column(cols, 'call_id')) }} as external_call_id,
        {{ raw_int(optional_column(cols, 'portal_user_id')) }} as manager_id,
        {{ raw_int(optional_column(cols, 'crm_activity_id')) }} as activity_id,
        upper({{ raw_text(optional_column(cols, 'crm_entity_type')) }}) as crm_entity_type,
        {{ raw_int(optional_column(cols, 'crm_entity_id')) }} as crm_entity_id,

        ---------- the call: CALL_TYPE 1 out, 2 in, 3 in with redirect, 4 callback;
        ---------- CALL_FAILED_CODE 200 answered, 304 missed, 486 busy, 603 declined
        {{ raw_int(optional_column(cols, 'call_type')) }} as call_type,
        case when {{ raw_int(optional_column(cols, 'call_type')) }} in (2, 3) then 'in' else 'out' end as direction,
        {{ raw_text(optional_column(cols, 'call_failed_code')) }} as call_failed_code,
        coalesce({{ raw_text(optional_column(cols, 'call_failed_code')) }} = '200', false) as is_answered,
        coalesce({{ raw_int(optional_column(cols, 'call_duration')) }}, 0) as duration_sec,
        {{ raw_text(optional_column(cols, 'phone_number_hash')) }} as client_phone_hash,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'call_start_date')) }} as started_at,

        ---------- load bookkeeping (dlt): lets the canonical call model load incrementally
        {{ raw_text(optional_column(cols, '_dlt_load_id')) }} as load_id

    from source

)

select * from renamed
