-- One row per call (lead notes call_in / call_out). The client's number arrives hashed.
{% set cols = raw_source_columns('raw_amocrm', 'notes') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'notes') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as call_id,
        cast({{ optional_column(cols, 'entity_id', 'bigint') }} as bigint) as lead_id,
        cast({{ optional_column(cols, 'responsible_user_id', 'bigint') }} as bigint) as manager_id,
        case {{ raw_text(optional_column(cols, 'note_type')) }}
            when 'call_in' then 'incoming' when 'call_out' then 'outgoing'
        end as direction,
        cast({{ optional_column(cols, 'call_duration', 'bigint') }} as bigint) as duration_seconds,
        -- amoCRM call_status: 4 talked, 5 wrong number, 6 no answer, 7 busy (1-3: messages/callbacks)
        cast({{ optional_column(cols, 'call_status', 'bigint') }} as bigint) as call_status,
        coalesce(cast({{ optional_column(cols, 'call_status', 'bigint') }} as bigint) = 4
                 and cast({{ optional_column(cols, 'call_duration', 'bigint') }} as bigint) > 0, false) as is_answered,
        {{ raw_text(optional_column(cols, 'call_result')) }} as call_result,
        {{ raw_text(optional_column(cols, 'call_link')) }} as recording_url,
        {{ raw_text(optional_column(cols, 'phone_hash')) }} as phone_hash,
        {{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }} as called_at,
        {{ unix_to_timestamptz(optional_column(cols, 'updated_at', 'bigint')) }} as updated_at,
        -- dlt load bookkeeping: lets the canonical activity model load incrementally
        {{ raw_text(optional_column(cols, '_dlt_load_id')) }} as load_id

    from source

)

select * from renamed
