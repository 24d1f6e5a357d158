-- One row per exported manager (optional; Maven's sales_teams.csv: agent, their manager, office).
{% set cols = raw_source_columns('raw_export', 'managers') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_export', 'managers') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'manager_name')) }} as manager_name,
        {{ raw_text(optional_column(cols, 'manager_id')) }} as manager_id,
        cast({{ optional_column(cols, 'manager_key', 'bigint') }} as bigint) as manager_key,
        {{ raw_text(optional_column(cols, 'head_name')) }} as head_name,
        {{ raw_text(optional_column(cols, 'department')) }} as department_name,
        cast({{ optional_column(cols, 'department_key', 'bigint') }} as bigint) as department_key,
        {{ raw_text(optional_column(cols, 'email')) }} as email

    from source

)

select * from renamed
