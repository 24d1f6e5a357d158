-- Canonical department (DOMAIN.md): the portal's org structure.

with

departments as (

    select * from {{ ref('stg_bitrix24__departments') }}

),

final as (

    select
        department_id,
        department_name,
        parent_department_id

    from departments

)

select * from final
