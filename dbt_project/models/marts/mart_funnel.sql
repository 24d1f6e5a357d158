-- Stage conversion (docs/KPI.md), month of entering x pipeline x stage x manager x channel x weekday of
-- entering (ISO 1 Monday .. 7 Sunday: the "stages x weekdays" heat-map; sum the counts for coarser
-- cuts). The channel is the one of the lead the deal came from, else the deal's own (as mart_channel).
--   entered            deals that entered the stage
--   advanced           of those, deals that later reached any stage after it (a higher sort order in
--                      the pipeline that is not a lost stage)
--   conversion_pct     advanced / entered x 100
--   median_days_in_stage  median of left_at - entered_at (days, stays that have ended)
-- Built from intermediate stage_history: empty until the CRM's stage history is ingested.

with

history as (

    select * from {{ ref('stage_history') }}

),

deals as (

    select * from {{ ref('deal') }}

),

leads as (

    select * from {{ ref('lead') }}

),

stages as (

    select * from {{ ref('stage') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

furthest as (

    -- the furthest non-lost stage each deal ever reached, per pipeline
    select
        deal_id,
        pipeline_id,
        max(case when stage_semantic <> 'lost' then stage_sort end) as max_sort

    from history
    group by 1, 2

),

entries as (

    select
        history.deal_id,
        history.pipeline_id,
        history.stage_id,
        history.stage_sort,
        history.entered_day,
        deals.manager_id,
        coalesce(case when leads.lead_id is not null then leads.channel else deals.channel end, '(none)') as channel,
        furthest.max_sort > history.stage_sort as has_advanced,
        cast(extract(epoch from (history.left_at - history.entered_at)) / 86400.0 as double precision)
            as days_in_stage

    from history

    left join deals
        on history.deal_id = deals.deal_id

    left join leads
        on deals.lead_id = leads.lead_id

    left join furthest
        on history.deal_id = furthest.deal_id
        and history.pipeline_id = furthest.pipeline_id

    where history.stage_semantic is distinct from 'lost'
        and history.stage_semantic is distinct from 'won'

),

final as (

    select
        {{ month_start('entries.entered_day') }} as month,
        entries.pipeline_id,
        pipelines.pipeline_name,
        entries.stage_id,
        min(stages.stage_name) as stage_name,
        min(entries.stage_sort) as stage_sort,
        coalesce(entries.manager_id, 0) as manager_id,
        entries.channel,
        cast(extract(isodow from entries.entered_day) as integer) as entered_weekday,
        cast(count(*) as bigint) as entered,
        cast(sum(case when entries.has_advanced then 1 else 0 end) as bigint) as advanced,
        cast(round(cast(100.0 * sum(case when entries.has_advanced then 1 else 0 end) / count(*) as numeric(38, 10)), 2)
            as double precision) as conversion_pct,
        cast({{ median('entries.days_in_stage') }} as double precision) as median_days_in_stage

    from entries

    left join stages
        on entries.stage_id = stages.stage_id

    left join pipelines
        on entries.pipeline_id = pipelines.pipeline_id

    group by 1, 2, 3, 4, 7, 8, 9

)

select * from final
