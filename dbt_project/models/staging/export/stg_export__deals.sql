-- One row per exported deal (a CRM export through its mapping). Empty until an export is loaded.
-- Ids are text: exports use whatever keys the CRM had (Maven's "1C1I7A6R", Olist's hashes).
{% set cols = raw_source_columns('raw_export', 'deals') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_export', 'deals') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_text(optional_column(cols, 'deal_id')) }} as deal_id,
        {{ raw_text(optional_column(cols, 'lead_id')) }} as lead_id,
        {{ raw_text(optional_column(cols, 'manager_id')) }} as manager_id,

        -- stable bigint surrogates of the text ids, computed at ingestion (export reader.surrogate_key)
        cast({{ optional_column(cols, 'deal_id_key', 'bigint') }} as bigint) as deal_id_key,
        cast({{ optional_column(cols, 'lead_id_key', 'bigint') }} as bigint) as lead_id_key,
        cast({{ optional_column(cols, 'manager_key', 'bigint') }} as bigint) as manager_key,
        cast({{ optional_column(cols, 'pipeline_key', 'bigint') }} as bigint) as pipeline_key,
        cast({{ optional_column(cols, 'account_key', 'bigint') }} as bigint) as account_key,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as deal_title,
        {{ raw_text(optional_column(cols, 'manager_name')) }} as manager_name,
        {{ raw_text(optional_column(cols, 'pipeline')) }} as pipeline_name,
        {{ raw_text(optional_column(cols, 'stage')) }} as stage_name,
        lower({{ raw_text(optional_column(cols, 'status')) }}) as status,
        {{ raw_text(optional_column(cols, 'account')) }} as account_name,
        {{ raw_text(optional_column(cols, 'product')) }} as product,
        {{ raw_text(optional_column(cols, 'segment')) }} as segment,
        {{ raw_text(optional_column(cols, 'region')) }} as region,
        {{ raw_text(optional_column(cols, 'source')) }} as source_name,
        {{ raw_text(optional_column(cols, 'lost_reason')) }} as lost_reason,
        upper({{ raw_text(optional_column(cols, 'currency')) }}) as currency_code,

        ---------- numerics
        {{ raw_money(optional_column(cols, 'amount', 'numeric')) }} as amount,
        {{ raw_decimal(optional_column(cols, 'quantity', 'numeric'), 4) }} as quantity,
        {{ raw_decimal(optional_column(cols, 'profit', 'numeric'), 4) }} as profit,

        ---------- timestamps (UTC instants; date-only exports land at 00:00 UTC)
        cast({{ optional_column(cols, 'created_at', 'timestamp with time zone') }} as timestamp with time zone) as created_at,
        cast({{ optional_column(cols, 'closed_at', 'timestamp with time zone') }} as timestamp with time zone) as closed_at,

        ---------- lineage back to the file
        {{ raw_text(optional_column(cols, 'export_name')) }} as export_name,
        {{ raw_text(optional_column(cols, 'source_file')) }} as source_file,
        cast({{ optional_column(cols, 'source_line', 'bigint') }} as bigint) as source_line

    from source

)

select * from renamed
