-- One row per department (department.get).
{% set cols = raw_source_columns('raw_bitrix24', 'departments') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'departments') }}

),

renamed as (

    select
        {{ raw_int(optional_column(cols, 'id')) }} as department_id,
        {{ raw_text(optional_column(cols, 'name')) }} as department_name,
        {{ raw_int(optional_column(cols, 'parent')) }} as parent_department_id

    from source

)

select * from renamed
