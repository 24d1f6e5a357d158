-- One row per department (department.get).

with

source as (

    select * from {{ source('raw_bitrix24', 'departments') }}

),

renamed as (

    select
        {{ raw_int('id') }} as department_id,
        {{ raw_text('name') }} as department_name,
        {{ raw_int('parent') }} as parent_department_id

    from source

)

select * from renamed
