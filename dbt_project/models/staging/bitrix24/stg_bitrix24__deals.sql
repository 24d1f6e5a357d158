-- One row per Bitrix24 deal. The only place that knows crm.deal.list's raw column names.
{% set cols = column_names(source('raw_bitrix24', 'deals')) %}

with

source as (

    select * from {{ source('raw_bitrix24', 'deals') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int('id') }} as deal_id,
        coalesce({{ raw_int(optional_column(cols, 'category_id')) }}, 0) as pipeline_id,
        {{ raw_text('stage_id') }} as stage_id,
        {{ raw_int('assigned_by_id') }} as manager_id,
        {{ raw_int(optional_column(cols, 'company_id')) }} as company_id,
        {{ raw_int(optional_column(cols, 'contact_id')) }} as contact_id,
        {{ raw_int(optional_column(cols, 'lead_id')) }} as lead_id,
        {{ raw_text(optional_column(cols, 'source_id')) }} as source_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as deal_title,
        upper({{ raw_text(optional_column(cols, 'stage_semantic_id')) }}) as stage_semantic_id,
        upper({{ raw_text('currency_id') }}) as currency_code,
        {{ raw_text(optional_column(cols, 'uf_crm_lost_reason')) }} as lost_reason,
        {{ raw_text(optional_column(cols, 'uf_crm_product')) }} as product,
        {{ raw_text(optional_column(cols, 'utm_source')) }} as utm_source,
        {{ raw_text(optional_column(cols, 'utm_medium')) }} as utm_medium,
        {{ raw_text(optional_column(cols, 'utm_campaign')) }} as utm_campaign,

        ---------- numerics
        {{ raw_money('opportunity') }} as amount,

        ---------- deletion (the ingest's scan marks records gone from the portal)
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,

        ---------- booleans
        {{ raw_flag(optional_column(cols, 'closed')) }} as is_closed,
        {{ raw_flag(optional_column(cols, 'is_return_customer')) }} as is_return_customer,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp('date_create') }} as created_at,
        {{ raw_timestamp('date_modify') }} as modified_at,
        {{ raw_timestamp(optional_column(cols, 'closedate')) }} as close_date_at

    from source

)

select * from renamed
