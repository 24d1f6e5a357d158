-- One row per lead status change (events of type lead_status_changed): amoCRM's stage history.
{% set cols = raw_source_columns('raw_amocrm', 'events') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'events') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'id')) }} as event_id,
        cast({{ optional_column(cols, 'entity_id', 'bigint') }} as bigint) as lead_id,
        cast({{ optional_column(cols, 'pipeline_before_id', 'bigint') }} as bigint) as pipeline_before_id,
        cast({{ optional_column(cols, 'status_before_id', 'bigint') }} as bigint) as status_before_id,
        cast({{ optional_column(cols, 'pipeline_after_id', 'bigint') }} as bigint) as pipeline_id,
        cast({{ optional_column(cols, 'status_after_id', 'bigint') }} as bigint) as status_id,
        cast({{ optional_column(cols, 'created_by', 'bigint') }} as bigint) as changed_by_id,
        {{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }} as changed_at

    from source
    where {{ raw_text(optional_column(cols, 'type')) }} = 'lead_status_changed'

)

select * from renamed
