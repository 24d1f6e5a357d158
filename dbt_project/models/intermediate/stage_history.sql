-- Canonical stage history (docs/KPI.md): one row per deal entering a stage, with when it left (the
-- next entry). Bitrix24 crm.stagehistory.list (entityTypeId 2) lands in
-- raw_bitrix24.stage_history_deals (or stage_history) once that resource is ingested; until the
-- table exists this model is an empty, typed table, so the funnel mart builds (empty) on a warehouse
-- without it. From the company's one CRM (var crm, macros/crm.sql):
-- amoCRM: events lead_status_changed (status ids as canonical stage ids, see stage), plus the lead's
-- first status at its creation (the first change's "before" status, else its current status).
-- Export files carry no history: empty.
-- A large fact, so incremental: entry_number and left_at come from window functions over a deal's
-- whole history (a new entry closes the previous one), so a run recomputes EVERY entry of each deal
-- whose entries changed (delete + insert on crm_source, deal_id). Which deals: those whose entries
-- (the cheap projection below, before the windows and joins) differ from the stored rows, both ways
-- (except all); this needs no load id column, so the table's columns stay as they were, and it also
-- catches a changed or deleted entry, an amoCRM lead that was deleted and a stage whose order or
-- semantic changed (those columns are copied from stage). A deal left with no entry at all gets one
-- placeholder row (entry_number 0) that replaces its old rows; the post-hook deletes it.
-- `dbt build --full-refresh` gives the same rows (and is needed after a COMPANY_TIMEZONE change, as
-- for activity: the stored business days are not compared).
{{ config(
    materialized='incremental',
    unique_key=['crm_source', 'deal_id'],
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where entry_number = 0"
) }}
{% set rel = optional_relation('raw_bitrix24', 'stage_history_deals')
    or optional_relation('raw_bitrix24', 'stage_history') %}
{% set cols = column_names(rel) if rel is not none else [] %}

with

amocrm_leads as (

    {{ amocrm_live_leads() }}

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

{% if is_incremental() %}
changed_deals as (

    -- the deals with an entry that is new, or stored but gone or changed
    select distinct crm_source, deal_id
    from (
        (
            select crm_source, deal_id, pipeline_id, stage_id, entered_at from entries
            except all
            select crm_source, deal_id, pipeline_id, stage_id, entered_at from {{ this }}
        )
        union all
        (
            select crm_source, deal_id, pipeline_id, stage_id, entered_at from {{ this }}
            except all
            select crm_source, deal_id, pipeline_id, stage_id, entered_at from entries
        )
        union all
        -- a stage whose order or semantic changed since: its deals' stored copies are stale
        (
            select stored.crm_source, stored.deal_id, stored.pipeline_id, stored.stage_id, stored.entered_at
            from {{ this }} as stored
            left join stages
                on stored.stage_id = stages.stage_id
            where stored.stage_sort is distinct from stages.sort_order
                or stored.stage_semantic is distinct from stages.semantic
        )
    ) as differences

),

scoped as (

    select entries.*
    from entries
    inner join changed_deals
        on entries.crm_source = changed_deals.crm_source
        and entries.deal_id = changed_deals.deal_id

),
{% else %}
scoped as (

    select * from entries

),
{% endif %}

sequenced as (

    select
        scoped.*,
        lead(scoped.entered_at) over (
            partition by scoped.crm_source, scoped.deal_id order by scoped.entered_at, scoped.stage_id
        ) as left_at,
        row_number() over (
            partition by scoped.crm_source, scoped.deal_id order by scoped.entered_at, scoped.stage_id
        ) as entry_number

    from scoped

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

){% if is_incremental() %},

removed as (

    -- a changed deal with no entry left: one placeholder row (entry_number 0, the post-hook deletes
    -- it) so that delete + insert drops the deal's stored rows; the other columns are typed nulls
    select
        changed_deals.deal_id,
        cast(0 as bigint) as entry_number,
        final.pipeline_id,
        final.stage_id,
        final.stage_sort,
        final.stage_semantic,
        final.entered_at,
        final.left_at,
        final.entered_day,
        final.left_day,
        changed_deals.crm_source

    from changed_deals
    left join final
        on 1 = 0
    where not exists (
        select 1 from scoped
        where scoped.crm_source = changed_deals.crm_source
            and scoped.deal_id = changed_deals.deal_id
    )

){% endif %}

select * from final
{% if is_incremental() %}
union all
select * from removed
{% endif %}
