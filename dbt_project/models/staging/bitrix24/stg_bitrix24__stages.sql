-- One row per crm.status.list entry: deal stages of every pipeline (DEAL_STAGE, DEAL_STAGE_<id>),
-- lead statuses (STATUS), sources (SOURCE) and other reference lists.
{% set cols = raw_source_columns('raw_bitrix24', 'stages') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'stages') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'entity_id')) }} as entity_id,
        {{ raw_text(optional_column(cols, 'status_id')) }} as status_id,
        {{ raw_text(optional_column(cols, 'name')) }} as status_name,
        {{ raw_int(optional_column(cols, 'sort')) }} as sort_order,
        upper({{ raw_text(optional_column(cols, 'semantics')) }}) as semantics,
        {{ raw_int(optional_column(cols, 'category_id')) }} as category_id

    from source

)

select * from renamed
