-- One row per deleted lead (events of type lead_deleted), for accounts whose lists hide deleted leads.
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
