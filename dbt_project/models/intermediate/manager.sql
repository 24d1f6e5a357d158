-- Canonical manager: a portal user with a name and one department (the first one listed in
-- UF_DEPARTMENT, which is the user's main department in Bitrix24).

with

users as (

    select * from {{ ref('stg_bitrix24__users') }}

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

final as (

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

)

select * from final
