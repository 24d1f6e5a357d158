-- One row per amoCRM user (manager).
{% set cols = raw_source_columns('raw_amocrm', 'users') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'users') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as user_id,
        {{ raw_text(optional_column(cols, 'name')) }} as user_name,
        {{ raw_text(optional_column(cols, 'email')) }} as email,
        coalesce(cast({{ optional_column(cols, 'is_active', 'boolean') }} as boolean), true) as is_active

    from source

)

select * from renamed
