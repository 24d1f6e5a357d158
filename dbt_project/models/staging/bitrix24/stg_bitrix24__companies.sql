-- One row per CRM company (crm.company.list), with the deletion mark the ingest keeps.
{% set cols = raw_source_columns('raw_bitrix24', 'companies') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'companies') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as company_id,
        {{ raw_int(optional_column(cols, 'assigned_by_id')) }} as manager_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as company_name,
        {{ raw_text(optional_column(cols, 'company_type')) }} as company_type,
        {{ raw_text(optional_column(cols, 'industry')) }} as industry,

        ---------- deletion (a record gone from the portal is kept, marked)
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,
        {{ raw_timestamp(optional_column(cols, 'deleted_at')) }} as deleted_at,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'date_create')) }} as created_at,
        {{ raw_timestamp(optional_column(cols, 'date_modify')) }} as modified_at

    from source

)

select * from renamed
