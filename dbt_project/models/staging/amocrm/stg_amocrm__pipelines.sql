-- One row per amoCRM lead pipeline.
{% set cols = raw_source_columns('raw_amocrm', 'pipelines') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'pipelines') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as pipeline_id,
        {{ raw_text(optional_column(cols, 'name')) }} as pipeline_name,
        cast({{ optional_column(cols, 'sort', 'bigint') }} as bigint) as sort_order,
        coalesce(cast({{ optional_column(cols, 'is_main', 'boolean') }} as boolean), false) as is_main,
        coalesce(cast({{ optional_column(cols, 'is_archive', 'boolean') }} as boolean), false) as is_archived

    from source

)

select * from renamed
