-- One row per (pipeline, status). 142 (won) and 143 (lost) repeat in every pipeline: key on both.
{% set cols = raw_source_columns('raw_amocrm', 'statuses') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'statuses') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'pipeline_id', 'bigint') }} as bigint) as pipeline_id,
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as status_id,
        {{ raw_text(optional_column(cols, 'name')) }} as status_name,
        cast({{ optional_column(cols, 'sort', 'bigint') }} as bigint) as sort_order,
        case
            when cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) = 142 then 'won'
            when cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) = 143 then 'lost'
            else 'open'
        end as status_semantics

    from source

)

select * from renamed
