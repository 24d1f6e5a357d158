-- One row per (user, department) from user.get's UF_DEPARTMENT list, which dlt unnests into a
-- child table keyed by the parent row's _dlt_id; list order kept as department_rank (0 = first).

with

source as (

    select * from {{ source('raw_bitrix24', 'users__uf_department') }}

),

users as (

    select * from {{ ref('stg_bitrix24__users') }}

),

renamed as (

    select
        users.user_id,
        {{ raw_int('source.value') }} as department_id,
        source._dlt_list_idx as department_rank

    from source

    inner join users
        on source._dlt_parent_id = users.user_dlt_id

)

select * from renamed
