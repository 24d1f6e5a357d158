-- One row per call of the telephony export: direction, answered, start (UTC), duration, manager, hashed client number.
{%- set src = source('raw_telephony', 'calls') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}
{%- set cols = column_names(rel) if rel is not none else [] %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as varchar) as call_id, cast(null as timestamp with time zone) as started_at,
           cast(null as varchar) as direction, cast(null as varchar) as status, cast(null as boolean) as answered,
           cast(null as bigint) as duration_sec, cast(null as bigint) as manager_id, cast(null as varchar) as manager,
           cast(null as varchar) as client_phone_hash, cast(null as varchar) as recording_url,
           cast(null as varchar) as _dlt_load_id
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_text('call_id') }} as call_id,
        {{ raw_timestamp('started_at') }} as started_at,
        lower({{ raw_text('direction') }}) as direction,
        lower({{ raw_text('status') }}) as call_status,
        coalesce(cast(answered as boolean), false) as is_answered,
        coalesce({{ raw_int('duration_sec') }}, 0) as duration_sec,
        {{ raw_int(optional_column(cols, 'manager_id', 'bigint') if rel is not none else 'manager_id') }} as manager_id,
        {{ raw_text(optional_column(cols, 'manager') if rel is not none else 'manager') }} as manager_name,
        {{ raw_text('client_phone_hash') }} as client_phone_hash,
        {{ raw_text(optional_column(cols, 'recording_url') if rel is not none else 'recording_url') }} as recording_url,
        -- dlt load bookkeeping: lets the canonical call model load incrementally
        {{ raw_text(optional_column(cols, '_dlt_load_id') if rel is not none else '_dlt_load_id') }} as load_id

    from source

)

select * from renamed
