-- One row per (user, department) from user.get's UF_DEPARTMENT list, which dlt unnests into a
-- child table keyed by the parent row's _dlt_id; list order kept as department_rank (0 = first).
{% set cols = raw_source_columns('raw_bitrix24', 'users__uf_department') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'users__uf_department') }}

),

users as (

    select * from {{ ref('stg_bitrix24__users') }}

),

renamed as (

    select
        users.user_id,
        {{ raw_int(optional_column(cols, 'value')) }} as department_id,
        cast({{ optional_column(cols, '_dlt_list_idx', 'bigint') }} as bigint) as department_rank

    from source

    inner join users
        on {{ optional_column(cols, '_dlt_parent_id') }} = users.user_dlt_id

)

select * from renamed
