-- One row per exported activity (call, meeting, e-mail, task; optional in the mapping).
{% set cols = raw_source_columns('raw_export', 'activities') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_export', 'activities') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'activity_id')) }} as activity_id,
        lower({{ raw_text(optional_column(cols, 'type')) }}) as activity_type,
        lower({{ raw_text(optional_column(cols, 'direction')) }}) as direction,
        {{ raw_text(optional_column(cols, 'manager_id')) }} as manager_id,
        {{ raw_text(optional_column(cols, 'manager_name')) }} as manager_name,
        {{ raw_text(optional_column(cols, 'deal_id')) }} as deal_id,
        {{ raw_text(optional_column(cols, 'lead_id')) }} as lead_id,
        cast({{ optional_column(cols, 'activity_id_key', 'bigint') }} as bigint) as activity_id_key,
        cast({{ optional_column(cols, 'manager_key', 'bigint') }} as bigint) as manager_key,
        cast({{ optional_column(cols, 'deal_id_key', 'bigint') }} as bigint) as deal_id_key,
        cast({{ optional_column(cols, 'lead_id_key', 'bigint') }} as bigint) as lead_id_key,
        {{ raw_text(optional_column(cols, 'subject')) }} as subject,
        {{ raw_text(optional_column(cols, 'completed')) }} as completed,
        cast({{ optional_column(cols, 'duration_seconds', 'bigint') }} as bigint) as duration_seconds,
        cast({{ optional_column(cols, 'occurred_at', 'timestamp with time zone') }} as timestamp with time zone) as occurred_at,
        {{ raw_text(optional_column(cols, 'source_file')) }} as source_file,
        cast({{ optional_column(cols, 'source_line', 'bigint') }} as bigint) as source_line,
        {{ raw_text(optional_column(cols, '_dlt_load_id')) }} as load_id

    from source

)

select * from renamed
