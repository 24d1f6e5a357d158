-- One row per deal pipeline (crm.category.list, entityTypeId 2).
{% set cols = raw_source_columns('raw_bitrix24', 'pipelines') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'pipelines') }}

),

renamed as (

    select
        {{ raw_int(optional_column(cols, 'id')) }} as pipeline_id,
        {{ raw_text(optional_column(cols, 'name')) }} as pipeline_name,
        {{ raw_int(optional_column(cols, 'sort')) }} as sort_order

    from source

)

select * from renamed
