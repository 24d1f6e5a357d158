-- One row per deleted lead (events of type lead_deleted). amoCRM's lists never show a deleted lead; the source
-- marks its stored row is_deleted from these same events, and this list also covers rows loaded before it did.
{% set cols = raw_source_columns('raw_amocrm', 'events') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'events') }}

),

deleted as (

    select
        cast({{ optional_column(cols, 'entity_id', 'bigint') }} as bigint) as lead_id,
        max({{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }}) as deleted_at

    from source
    where {{ raw_text(optional_column(cols, 'type')) }} = 'lead_deleted'
    group by 1

)

select * from deleted
