-- One row per CRM activity (crm.activity.list): calls, meetings, e-mails, tasks, provider items.
{% set cols = raw_source_columns('raw_bitrix24', 'activities') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'activities') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as activity_id,
        {{ raw_int(optional_column(cols, 'type_id')) }} as type_id,
        {{ raw_int(optional_column(cols, 'direction')) }} as direction_id,
        {{ raw_int(optional_column(cols, 'responsible_id')) }} as manager_id,
        {{ raw_int(optional_column(cols, 'owner_type_id')) }} as owner_type_id,
        {{ raw_int(optional_column(cols, 'owner_id')) }} as owner_id,
        {{ raw_text(optional_column(cols, 'provider_id')) }} as provider_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'subject')) }} as subject,

        ---------- booleans
        {{ raw_flag(optional_column(cols, 'completed')) }} as is_completed,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'created')) }} as created_at,
        {{ raw_timestamp(optional_column(cols, 'start_time')) }} as start_at,
        {{ raw_timestamp(optional_column(cols, 'end_time')) }} as end_at,
        {{ raw_timestamp(optional_column(cols, 'deadline')) }} as deadline_at,

        ---------- load bookkeeping (dlt): lets the canonical activity model load incrementally
        {{ optional_column(cols, '_dlt_load_id') }} as load_id

    from source

)

select * from renamed
