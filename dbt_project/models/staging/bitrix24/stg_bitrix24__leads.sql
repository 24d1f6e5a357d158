-- One row per Bitrix24 lead (crm.lead.list).
{% set cols = raw_source_columns('raw_bitrix24', 'leads') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'leads') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as lead_id,
        {{ raw_int(optional_column(cols, 'assigned_by_id')) }} as manager_id,
        {{ raw_text(optional_column(cols, 'status_id')) }} as status_id,
        {{ raw_text(optional_column(cols, 'source_id')) }} as source_id,
        {{ raw_int(optional_column(cols, 'company_id')) }} as company_id,
        {{ raw_int(optional_column(cols, 'contact_id')) }} as contact_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as lead_title,
        upper({{ raw_text(optional_column(cols, 'status_semantic_id')) }}) as status_semantic_id,
        {{ raw_text(optional_column(cols, 'utm_source')) }} as utm_source,
        {{ raw_text(optional_column(cols, 'utm_medium')) }} as utm_medium,
        {{ raw_text(optional_column(cols, 'utm_campaign')) }} as utm_campaign,

        ---------- deletion (the ingest's scan marks records gone from the portal)
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,

        ---------- numerics
        {{ raw_money(optional_column(cols, 'opportunity')) }} as amount,
        upper({{ raw_text(optional_column(cols, 'currency_id')) }}) as currency_code,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'date_create')) }} as created_at,
        {{ raw_timestamp(optional_column(cols, 'date_modify')) }} as modified_at,
        {{ raw_timestamp(optional_column(cols, 'date_closed')) }} as closed_at

    from source

)

select * from renamed
