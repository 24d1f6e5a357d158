-- Stage conversion (docs/KPI.md), month of entering x pipeline x stage x manager x channel x weekday of
-- entering (ISO 1 Monday .. 7 Sunday: the "stages x weekdays" heat-map; sum the counts for coarser
-- cuts). The channel is the one of the lead the deal came from, else the deal's own (as mart_channel).
--   entered            deals that entered the stage
--   advanced           of those, deals that later reached any stage after it (a higher sort order in
--                      the pipeline that is not a lost stage)
--   conversion_pct     advanced / entered x 100
--   median_days_in_stage  median of left_at - entered_at (days, stays that have ended)
-- Built from intermediate int_stage_entries (stage_history): empty until the CRM's stage history is ingested.

with

entries as (

    select * from {{ ref('int_stage_entries') }}

),

stages as (

    select * from {{ ref('stage') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

final as (

    select
        entries.entered_month as month,
        entries.pipeline_id,
        pipelines.pipeline_name,
        entries.stage_id,
        min(stages.stage_name) as stage_name,
        min(entries.stage_sort) as stage_sort,
        coalesce(entries.manager_id, 0) as manager_id,
        entries.channel,
        entries.entered_weekday,
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
