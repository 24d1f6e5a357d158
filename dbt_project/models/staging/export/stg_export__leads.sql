-- One row per exported lead (optional in the mapping; empty when it has none).
{% set cols = raw_source_columns('raw_export', 'leads') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_export', 'leads') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'lead_id')) }} as lead_id,
        {{ raw_text(optional_column(cols, 'manager_id')) }} as manager_id,
        cast({{ optional_column(cols, 'lead_id_key', 'bigint') }} as bigint) as lead_id_key,
        cast({{ optional_column(cols, 'manager_key', 'bigint') }} as bigint) as manager_key,
        {{ raw_text(optional_column(cols, 'title')) }} as lead_title,
        {{ raw_text(optional_column(cols, 'manager_name')) }} as manager_name,
        {{ raw_text(optional_column(cols, 'status')) }} as status_name,
        {{ raw_text(optional_column(cols, 'source')) }} as source_name,
        {{ raw_text(optional_column(cols, 'landing_page')) }} as landing_page,
        {{ raw_text(optional_column(cols, 'account')) }} as account_name,
        {{ raw_money(optional_column(cols, 'amount', 'numeric')) }} as amount,
        upper({{ raw_text(optional_column(cols, 'currency')) }}) as currency_code,
        cast({{ optional_column(cols, 'created_at', 'timestamp with time zone') }} as timestamp with time zone) as created_at,
        cast({{ optional_column(cols, 'closed_at', 'timestamp with time zone') }} as timestamp with time zone) as closed_at,
        {{ raw_text(optional_column(cols, 'export_name')) }} as export_name,
        {{ raw_text(optional_column(cols, 'source_file')) }} as source_file,
        cast({{ optional_column(cols, 'source_line', 'bigint') }} as bigint) as source_line

    from source

)

select * from renamed
