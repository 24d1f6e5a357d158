-- Canonical department (docs/KPI.md): the sales org structure, from the company's one CRM (var crm,
-- macros/crm.sql). Bitrix24: the portal's departments. amoCRM (its user groups are not ingested) and
-- export files without a department: one department 0 'Отдел продаж' holds every manager, so the
-- department roll-ups of the marts still add up. Export files: the managers file's `department`
-- text, keyed by its ingestion-time surrogate (department_key), under department 0.

with

bitrix24 as (

    select department_id, department_name, parent_department_id
    from {{ ref('stg_bitrix24__departments') }}
    where {{ crm_is('bitrix24') }}

),

whole_sales as (

    select
        cast(0 as bigint) as department_id,
        'Отдел продаж' as department_name,
        cast(null as bigint) as parent_department_id
    where {{ crm_is('amocrm') }} or {{ crm_is('export') }}

),

export as (

    select
        department_key as department_id,
        min(department_name) as department_name,
        cast(0 as bigint) as parent_department_id
    from {{ ref('stg_export__managers') }}
    where {{ crm_is('export') }}
        and department_key is not null
    group by department_key

),

final as (

    select * from bitrix24
    union all
    select * from whole_sales
    union all
    select * from export

)

select
    cast(department_id as bigint) as department_id,
    cast(department_name as varchar) as department_name,
    cast(parent_department_id as bigint) as parent_department_id
from final
