-- One row per Bitrix24 deal. The only place that knows crm.deal.list's raw column names.
{% set cols = raw_source_columns('raw_bitrix24', 'deals') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'deals') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as deal_id,
        coalesce({{ raw_int(optional_column(cols, 'category_id')) }}, 0) as pipeline_id,
        {{ raw_text(optional_column(cols, 'stage_id')) }} as stage_id,
        {{ raw_int(optional_column(cols, 'assigned_by_id')) }} as manager_id,
        {{ raw_int(optional_column(cols, 'company_id')) }} as company_id,
        {{ raw_int(optional_column(cols, 'contact_id')) }} as contact_id,
        {{ raw_int(optional_column(cols, 'lead_id')) }} as lead_id,
        {{ raw_text(optional_column(cols, 'source_id')) }} as source_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as deal_title,
        upper({{ raw_text(optional_column(cols, 'stage_semantic_id')) }}) as stage_semantic_id,
        upper({{ raw_text(optional_column(cols, 'currency_id')) }}) as currency_code,
        {{ raw_text(optional_column(cols, 'uf_crm_lost_reason')) }} as lost_reason,
        {{ raw_text(optional_column(cols, 'uf_crm_product')) }} as product,
        {{ raw_text(optional_column(cols, 'utm_source')) }} as utm_source,
        {{ raw_text(optional_column(cols, 'utm_medium')) }} as utm_medium,
        {{ raw_text(optional_column(cols, 'utm_campaign')) }} as utm_campaign,

        ---------- numerics
        {{ raw_money(optional_column(cols, 'opportunity')) }} as amount,

        ---------- deletion (the ingest's scan marks records gone from the portal)
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,

        ---------- booleans
        {{ raw_flag(optional_column(cols, 'closed')) }} as is_closed,
        {{ raw_flag(optional_column(cols, 'is_return_customer')) }} as is_return_customer,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'date_create')) }} as created_at,
        {{ raw_timestamp(optional_column(cols, 'date_modify')) }} as modified_at,
        {{ raw_timestamp(optional_column(cols, 'closedate')) }} as close_date_at

    from source

)

select * from renamed
