-- Canonical deal stage: pipeline, order and semantic (open / won / lost), from the company's one CRM
-- (var crm, macros/crm.sql).
-- Bitrix24 lists the stages of pipeline 0 under ENTITY_ID DEAL_STAGE and of pipeline N under
-- DEAL_STAGE_N (ids "CN:...").
-- amoCRM: a status of a pipeline; stage_id is the status id as text, except the system statuses 142
-- (won) and 143 (lost), which every pipeline shares: they become '<pipeline_id>:142' / ':143' so a
-- stage id stays unique (as Bitrix24's "C1:WON").
-- Export files name stages as text: stage_id is '<pipeline id>:<stage name>' (the status when the
-- export has no stage); its semantic is won / lost when every deal in it is, else open; exports carry
-- no stage order, so open stages sort by name, then won, then lost.

with

bitrix24_statuses as (

    select * from {{ ref('stg_bitrix24__stages') }}
    where {{ crm_is('bitrix24') }}

),

amocrm_statuses as (

    select * from {{ ref('stg_amocrm__statuses') }}
    where {{ crm_is('amocrm') }}

),

export_deals as (

    select * from {{ ref('stg_export__deals') }}
    where {{ crm_is('export') }}

),

bitrix24 as (

    select
        status_id as stage_id,
        coalesce(
            category_id,
            case
                when entity_id = 'DEAL_STAGE' then 0
                else cast(replace(entity_id, 'DEAL_STAGE_', '') as bigint)
            end
        ) as pipeline_id,
        status_name as stage_name,
        sort_order,
        case semantics
            when 'S' then 'won'
            when 'F' then 'lost'
            else 'open'
        end as semantic

    from bitrix24_statuses
    where entity_id = 'DEAL_STAGE' or entity_id like 'DEAL_STAGE_%'

),

amocrm as (

    select
        {{ amocrm_stage_id('pipeline_id', 'status_id') }} as stage_id,
        pipeline_id,
        status_name as stage_name,
        sort_order,
        status_semantics as semantic

    from amocrm_statuses

),

export_stages as (

    select
        {{ export_stage_id('pipeline_key', 'stage_name', 'status') }} as stage_id,
        coalesce(pipeline_key, 0) as pipeline_id,
        min(coalesce(stage_name, status)) as stage_name,
        case
            when min(status) = max(status) and max(status) in ('won', 'lost') then max(status)
            else 'open'
        end as semantic

    from export_deals
    group by 1, 2

),

export as (

    select
        stage_id,
        pipeline_id,
        stage_name,
        cast(10 * row_number() over (
            partition by pipeline_id
            order by case semantic when 'open' then 0 when 'won' then 1 else 2 end, stage_name
        ) as bigint) as sort_order,
        semantic

    from export_stages

),

final as (

    select stage_id, pipeline_id, stage_name, sort_order, semantic from bitrix24
    union all
    select stage_id, pipeline_id, stage_name, sort_order, semantic from amocrm
    union all
    select stage_id, pipeline_id, stage_name, sort_order, semantic from export

)

select
    cast(stage_id as varchar) as stage_id,
    cast(pipeline_id as bigint) as pipeline_id,
    cast(stage_name as varchar) as stage_name,
    cast(sort_order as bigint) as sort_order,
    cast(semantic as varchar) as semantic
from final
