-- One row per amoCRM task, with its deadline (complete_till) and completion.
{% set cols = raw_source_columns('raw_amocrm', 'tasks') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'tasks') }}

),

renamed as (

    select
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as task_id,
        cast({{ optional_column(cols, 'entity_id', 'bigint') }} as bigint) as entity_id,
        {{ raw_text(optional_column(cols, 'entity_type')) }} as entity_type,
        cast({{ optional_column(cols, 'responsible_user_id', 'bigint') }} as bigint) as manager_id,
        cast({{ optional_column(cols, 'task_type_id', 'bigint') }} as bigint) as task_type_id,
        {{ raw_text(optional_column(cols, 'text')) }} as task_text,
        coalesce(cast({{ optional_column(cols, 'is_completed', 'boolean') }} as boolean), false) as is_completed,
        {{ unix_to_timestamptz(optional_column(cols, 'complete_till', 'bigint')) }} as deadline_at,
        {{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }} as created_at,
        {{ unix_to_timestamptz(optional_column(cols, 'updated_at', 'bigint')) }} as updated_at,
        -- dlt load bookkeeping: lets the canonical activity model load incrementally
        {{ raw_text(optional_column(cols, '_dlt_load_id')) }} as load_id

    from source

)

select * from renamed
