-- One row per amoCRM company (the client, for repeat sales).
{% set cols = raw_source_columns('raw_amocrm', 'companies') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'companies') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as company_id,
        {{ raw_text(optional_column(cols, 'name')) }} as company_name,
        cast({{ optional_column(cols, 'responsible_user_id', 'bigint') }} as bigint) as manager_id,
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,
        {{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }} as created_at,
        {{ unix_to_timestamptz(optional_column(cols, 'updated_at', 'bigint')) }} as updated_at

    from source

)

select * from renamed
