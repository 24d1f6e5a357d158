-- Canonical stage history (DOMAIN.md): one row per deal entering a stage, with when it left (the
-- next entry). Bitrix24 crm.stagehistory.list (entityTypeId 2) lands in
-- raw_bitrix24.stage_history_deals (or stage_history) once that resource is ingested; until the
-- table exists this model is an empty, typed table, so the funnel mart builds (empty) on a warehouse
-- without it. Other CRMs add their rows to `entries`.
{% set rel = optional_relation('raw_bitrix24', 'stage_history_deals')
    or optional_relation('raw_bitrix24', 'stage_history') %}
{% set cols = column_names(rel) if rel is not none else [] %}

with

entries as (

    {% if rel is not none %}
    select
        {{ raw_int('owner_id') }} as deal_id,
        coalesce({{ raw_int(optional_column(cols, 'category_id')) }}, 0) as pipeline_id,
        {{ raw_text('stage_id') }} as stage_id,
        {{ raw_timestamp(optional_column(cols, 'created_time')) }} as entered_at,
        'bitrix24' as crm_source
    from {{ rel }}
    -- TYPE_ID 1 created, 2 moved (3/5 are the pipeline changes); OWNER is a deal
    where {{ raw_int(optional_column(cols, 'type_id', 'bigint')) }} in (1, 2, 3, 5)
        or {{ optional_column(cols, 'type_id', 'bigint') }} is null
    {% else %}
    select
        cast(null as bigint) as deal_id,
        cast(null as bigint) as pipeline_id,
        cast(null as varchar) as stage_id,
        cast(null as timestamp with time zone) as entered_at,
        cast(null as varchar) as crm_source
    where 1 = 0
    {% endif %}

),

stages as (

    select * from {{ ref('stage') }}

),

sequenced as (

    select
        entries.*,
        lead(entries.entered_at) over (
            partition by entries.crm_source, entries.deal_id order by entries.entered_at, entries.stage_id
        ) as left_at,
        row_number() over (
            partition by entries.crm_source, entries.deal_id order by entries.entered_at, entries.stage_id
        ) as entry_number

    from entries

),

final as (

    select
        cast(sequenced.deal_id as bigint) as deal_id,
        cast(sequenced.entry_number as bigint) as entry_number,
        cast(sequenced.pipeline_id as bigint) as pipeline_id,
        sequenced.stage_id,
        stages.sort_order as stage_sort,
        stages.semantic as stage_semantic,
        sequenced.entered_at,
        sequenced.left_at,
        {{ business_day('sequenced.entered_at') }} as entered_day,
        {{ business_day('sequenced.left_at') }} as left_day,
        sequenced.crm_source

    from sequenced

    left join stages
        on sequenced.stage_id = stages.stage_id

)

select * from final
