-- Canonical stage history (DOMAIN.md): one row per deal entering a stage, with when it left (the
-- next entry). Bitrix24 crm.stagehistory.list (entityTypeId 2) lands in
-- raw_bitrix24.stage_history_deals (or stage_history) once that resource is ingested; until the
-- table exists this model is an empty, typed table, so the funnel mart builds (empty) on a warehouse
-- without it. From the company's one CRM (var crm, macros/crm.sql):
-- amoCRM: events lead_status_changed (status ids as canonical stage ids, see stage), plus the lead's
-- first status at its creation (the first change's "before" status, else its current status).
-- Export files carry no history: empty.
{% set rel = optional_relation('raw_bitrix24', 'stage_history_deals')
    or optional_relation('raw_bitrix24', 'stage_history') %}
{% set cols = column_names(rel) if rel is not none else [] %}

with

amocrm_leads as (

    select * from {{ ref('stg_amocrm__leads') }} as leads
    where {{ crm_is('amocrm') }}
        and not leads.is_deleted
        and not exists (
            select 1 from {{ ref('stg_amocrm__deleted_leads') }} as deleted
            where deleted.lead_id = leads.lead_id
        )

),

amocrm_changes as (

    select changes.*
    from {{ ref('stg_amocrm__status_changes') }} as changes
    inner join amocrm_leads
        on changes.lead_id = amocrm_leads.lead_id

),

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
    where {{ crm_is('bitrix24') }}
        and ({{ raw_int(optional_column(cols, 'type_id', 'bigint')) }} in (1, 2, 3, 5)
            or {{ optional_column(cols, 'type_id', 'bigint') }} is null)
    {% else %}
    select
        cast(null as bigint) as deal_id,
        cast(null as bigint) as pipeline_id,
        cast(null as varchar) as stage_id,
        cast(null as timestamp with time zone) as entered_at,
        cast(null as varchar) as crm_source
    where 1 = 0
    {% endif %}

    union all

    select
        lead_id as deal_id,
        pipeline_id,
        {{ amocrm_stage_id('pipeline_id', 'status_id') }} as stage_id,
        changed_at as entered_at,
        'amocrm' as crm_source
    from amocrm_changes

    union all

    select
        amocrm_leads.lead_id as deal_id,
        coalesce(first_change.pipeline_before_id, amocrm_leads.pipeline_id) as pipeline_id,
        {{ amocrm_stage_id('coalesce(first_change.pipeline_before_id, amocrm_leads.pipeline_id)',
                           'coalesce(first_change.status_before_id, amocrm_leads.status_id)') }} as stage_id,
        amocrm_leads.created_at as entered_at,
        'amocrm' as crm_source
    from amocrm_leads
    left join (
        select
            amocrm_changes.*,
            row_number() over (partition by lead_id order by changed_at, event_id) as change_number
        from amocrm_changes
    ) as first_change
        on amocrm_leads.lead_id = first_change.lead_id
        and first_change.change_number = 1

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
