-- Canonical manager, from the company's one CRM (var crm, macros/crm.sql).
-- Bitrix24: a portal user with a name and one department (the first one listed in UF_DEPARTMENT,
-- which is the user's main department in Bitrix24).
-- amoCRM: an account user (name as one field; department 0, see department: amoCRM groups are not
-- ingested), plus
-- any responsible user of a lead the user list no longer has ('ID <n>'), so deals always find one.
-- Export files: the mapping's managers plus every manager named on a deal, lead or activity, keyed by
-- the ingestion-time surrogate manager_key (of manager_id, else of the name); the department of the
-- managers file (department_key), else department 0.

with

users as (

    select * from {{ ref('stg_bitrix24__users') }}
    where {{ crm_is('bitrix24') }}

),

user_departments as (

    select * from {{ ref('stg_bitrix24__user_departments') }}

),

main_department as (

    select
        user_id,
        department_id,
        row_number() over (partition by user_id order by department_rank) as rank_in_user

    from user_departments

),

bitrix24 as (

    select
        users.user_id as manager_id,
        coalesce(
            nullif(trim(concat_ws(' ', users.first_name, users.last_name)), ''),
            'ID ' || cast(users.user_id as varchar)
        ) as manager_name,
        users.first_name,
        users.last_name,
        main_department.department_id,
        users.time_zone,
        users.is_active

    from users

    left join main_department
        on users.user_id = main_department.user_id
        and main_department.rank_in_user = 1

),

amocrm_users as (

    select user_id, user_name, is_active
    from {{ ref('stg_amocrm__users') }}
    where {{ crm_is('amocrm') }}

),

amocrm_unlisted as (

    select distinct leads.manager_id as user_id
    from {{ ref('stg_amocrm__leads') }} as leads
    where {{ crm_is('amocrm') }}
        and leads.manager_id is not null
        and leads.manager_id not in (select user_id from amocrm_users where user_id is not null)

),

amocrm as (

    select
        user_id as manager_id,
        coalesce(user_name, 'ID ' || cast(user_id as varchar)) as manager_name,
        user_name as first_name,
        cast(null as varchar) as last_name,
        cast(0 as bigint) as department_id,
        cast(null as varchar) as time_zone,
        is_active
    from amocrm_users
    where user_id is not null

    union all

    select
        user_id,
        'ID ' || cast(user_id as varchar),
        cast(null as varchar),
        cast(null as varchar),
        cast(0 as bigint),
        cast(null as varchar),
        false
    from amocrm_unlisted

),

export_named as (

    -- the managers file and every manager named on deals, leads, activities
    select manager_key, manager_name, manager_id, department_key
    from {{ ref('stg_export__managers') }}
    where {{ crm_is('export') }}
    union all
    select manager_key, manager_name, manager_id, cast(null as bigint)
    from {{ ref('stg_export__deals') }}
    where {{ crm_is('export') }}
    union all
    select manager_key, manager_name, manager_id, cast(null as bigint)
    from {{ ref('stg_export__leads') }}
    where {{ crm_is('export') }}
    union all
    select manager_key, manager_name, manager_id, cast(null as bigint)
    from {{ ref('stg_export__activities') }}
    where {{ crm_is('export') }}

),

export as (

    select
        manager_key as manager_id,
        -- an export without names (Olist's sales reps) names a manager by the export's own id, as the
        -- CRM shows it, never by the warehouse's surrogate key (a key is made of the id or the name)
        coalesce(min(manager_name), 'ID ' || min(manager_id)) as manager_name,
        min(manager_name) as first_name,
        cast(null as varchar) as last_name,
        coalesce(min(department_key), 0) as department_id,
        cast(null as varchar) as time_zone,
        true as is_active
    from export_named
    where manager_key is not null
    group by manager_key

),

final as (

    select * from bitrix24
    union all
    select * from amocrm
    union all
    select * from export

)

select
    cast(manager_id as bigint) as manager_id,
    cast(manager_name as varchar) as manager_name,
    cast(first_name as varchar) as first_name,
    cast(last_name as varchar) as last_name,
    cast(department_id as bigint) as department_id,
    cast(time_zone as varchar) as time_zone,
    cast(is_active as boolean) as is_active
from final
