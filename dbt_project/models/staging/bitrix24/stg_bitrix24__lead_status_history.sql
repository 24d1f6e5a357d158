-- One row per status event of a lead (crm.stagehistory.list?entityTypeId=1).
{% set cols = raw_source_columns('raw_bitrix24', 'stage_history_leads') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'stage_history_leads') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id', 'bigint')) }} as status_history_id,
        {{ raw_int(optional_column(cols, 'owner_id', 'bigint')) }} as lead_id,
        {{ raw_text(optional_column(cols, 'status_id')) }} as status_id,

        ---------- the event: TYPE_ID 1 created, 2 intermediate status, 3 final status
        {{ raw_int(optional_column(cols, 'type_id', 'bigint')) }} as type_id,
        case upper({{ raw_text(optional_column(cols, 'status_semantic_id')) }})
            when 'S' then 'converted' when 'F' then 'junk' else 'open'
        end as status_semantic,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'created_time')) }} as entered_at

    from source

)

select * from renamed
