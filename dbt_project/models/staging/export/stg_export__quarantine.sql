-- Export rows that could not be read: which entity, file and line, and why (for the on-call).
{% set cols = raw_source_columns('raw_export', 'quarantine') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_export', 'quarantine') }}

),

renamed as (

    select
        {{ raw_text(optional_column(cols, 'entity')) }} as entity,
        {{ raw_text(optional_column(cols, 'file')) }} as source_file,
        cast({{ optional_column(cols, 'line', 'bigint') }} as bigint) as source_line,
        {{ raw_text(optional_column(cols, 'reason')) }} as reason,
        {{ raw_text(optional_column(cols, 'record')) }} as raw_record

    from source

)

select * from renamed
