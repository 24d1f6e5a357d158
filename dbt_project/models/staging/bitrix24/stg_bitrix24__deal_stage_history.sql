-- One row per stage event of a deal (crm.stagehistory.list?entityTypeId=2): created, moved,
-- closed (final stage) or moved to another pipeline, with the stage's semantic at that moment.
{% set cols = raw_source_columns('raw_bitrix24', 'stage_history_deals') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'stage_history_deals') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id', 'bigint')) }} as stage_history_id,
        {{ raw_int(optional_column(cols, 'owner_id', 'bigint')) }} as deal_id,
        coalesce({{ raw_int(optional_column(cols, 'category_id', 'bigint')) }}, 0) as pipeline_id,
        {{ raw_text(optional_column(cols, 'stage_id')) }} as stage_id,

        ---------- the event: TYPE_ID 1 created, 2 intermediate stage, 3 final stage, 5 moved to another pipeline
        {{ raw_int(optional_column(cols, 'type_id', 'bigint')) }} as type_id,
        case {{ raw_int(optional_column(cols, 'type_id', 'bigint')) }}
            when 1 then 'created' when 2 then 'moved' when 3 then 'closed' when 5 then 'pipeline_changed'
        end as event,
        case upper({{ raw_text(optional_column(cols, 'stage_semantic_id')) }})
            when 'S' then 'won' when 'F' then 'lost' else 'open'
        end as stage_semantic,

        ---------- timestamps (UTC instants)
        {{ raw_timestamp(optional_column(cols, 'created_time')) }} as entered_at

    from source

)

select * from renamed
