-- One row per amoCRM loss reason.
{% set cols = raw_source_columns('raw_amocrm', 'loss_reasons') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'loss_reasons') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as loss_reason_id,
        {{ raw_text(optional_column(cols, 'name')) }} as loss_reason_name

    from source

)

select * from renamed
