-- Each time a deal left an open stage, as it was known that day: the day it left (business day), its
-- manager, and whether it moved on (its next entry is a later, not-lost stage of the same pipeline:
-- a further open stage or won) or not (lost, or sent back). The anomaly model's stage conversions
-- read it (assets/anomalies/kpis.py): unlike mart_funnel's "ever advanced", which is only known in
-- hindsight, an exit is decided on its day, so a day's conversion never looks ahead.
-- next_stage_name names the stage after this one in funnel order (the pipeline's won stage after
-- its last open one), so a conversion reads "Подготовка КП → Счёт на предоплату".

with

history as (

    select * from {{ ref('stage_history') }}

),

deals as (

    select * from {{ ref('deal') }}

),

stages as (

    select * from {{ ref('stage') }}

),

pipelines as (

    select * from {{ ref('pipeline') }}

),

open_stages as (

    select
        stage_id,
        pipeline_id,
        stage_name,
        lead(stage_name) over (partition by pipeline_id order by sort_order, stage_id) as next_open_name

    from stages
    where semantic = 'open'

),

won_stages as (

    select pipeline_id, min(stage_name) as won_name
    from stages
    where semantic = 'won'
    group by 1

),

exits as (

    select
        cur.deal_id,
        cur.entry_number,
        cur.pipeline_id,
        cur.stage_id,
        cur.stage_sort,
        nxt.entered_day as exited_day,
        coalesce(nxt.stage_semantic <> 'lost' and nxt.stage_sort > cur.stage_sort, false) as advanced

    from history as cur

    inner join history as nxt
        on cur.crm_source = nxt.crm_source
        and cur.deal_id = nxt.deal_id
        and nxt.entry_number = cur.entry_number + 1
        and nxt.pipeline_id = cur.pipeline_id

    where cur.stage_semantic = 'open'

),

final as (

    select
        exits.deal_id,
        exits.entry_number,
        deals.manager_id,
        exits.pipeline_id,
        pipelines.pipeline_name,
        exits.stage_id,
        open_stages.stage_name,
        exits.stage_sort,
        coalesce(open_stages.next_open_name, won_stages.won_name) as next_stage_name,
        exits.exited_day,
        exits.advanced

    from exits

    left join deals
        on exits.deal_id = deals.deal_id

    left join open_stages
        on exits.stage_id = open_stages.stage_id

    left join won_stages
        on exits.pipeline_id = won_stages.pipeline_id

    left join pipelines
        on exits.pipeline_id = pipelines.pipeline_id

)

select * from final
