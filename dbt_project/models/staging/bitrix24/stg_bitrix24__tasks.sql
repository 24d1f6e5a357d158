-- One row per task (tasks.task.list): who, status, deadline, when it was closed.
-- STATUS 2 pending, 3 in progress, 4 supposedly completed, 5 completed, 6 deferred, 7 declined.
{% set cols = raw_source_columns('raw_bitrix24', 'tasks') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'tasks') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as task_id,
        {{ raw_int(optional_column(cols, 'responsible_id')) }} as manager_id,
        {{ raw_int(optional_column(cols, 'created_by')) }} as created_by_id,
        {{ raw_int(optional_column(cols, 'crm_activity_id')) }} as activity_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'title')) }} as title,

        ---------- status
        {{ raw_int(optional_column(cols, 'status')) }} as status_id,
        coalesce({{ raw_int(optional_column(cols, 'status')) }} = 5, false) as is_completed,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'created_date')) }} as created_at,
        {{ raw_timestamp(optional_column(cols, 'changed_date')) }} as changed_at,
        {{ raw_timestamp(optional_column(cols, 'closed_date')) }} as closed_at,
        {{ raw_timestamp(optional_column(cols, 'deadline')) }} as deadline_at

    from source

)

select * from renamed
