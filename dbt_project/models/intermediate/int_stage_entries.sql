-- Each deal's entry into an open stage (docs/KPI.md "Stage conversion"), with what the funnel marts
-- need to judge it: whether the deal later reached a further non-lost stage of the pipeline, the
-- days it stayed (null while it is still there), its manager and channel (the lead's, else the
-- deal's own, as mart_channel), the business day and ISO weekday (1 Monday .. 7 Sunday) of entering.
-- One place for the rule, so mart_funnel (the fine grain) and mart_funnel_stages (the report's
-- roll-ups with true medians) cannot drift apart. Won and lost stages are outcomes, not entries.

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

furthest as (

    -- the furthest non-lost stage each deal ever reached, per pipeline
    select
        deal_id,
        pipeline_id,
        max(case when stage_semantic <> 'lost' then stage_sort end) as max_sort

    from history
    group by 1, 2

),

final as (

    select
        history.deal_id,
        history.pipeline_id,
        history.stage_id,
        history.stage_sort,
        history.entered_day,
        {{ month_start('history.entered_day') }} as entered_month,
        cast(extract(isodow from history.entered_day) as integer) as entered_weekday,
        deals.manager_id,
        coalesce(case when leads.lead_id is not null then leads.channel else deals.channel end, '(none)') as channel,
        coalesce(furthest.max_sort > history.stage_sort, false) as has_advanced,
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

)

select * from final
