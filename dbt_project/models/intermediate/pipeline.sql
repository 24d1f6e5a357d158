-- Canonical pipeline, from the company's one CRM (var crm, macros/crm.sql).
-- Bitrix24 deal categories: the default pipeline 0 is not always listed by crm.category.list, so
-- pipelines that only appear through their stages are added with a name.
-- amoCRM: its lead pipelines. Export files: the mapping's `pipeline` text, keyed by its ingestion-time
-- surrogate (pipeline_key); deals without one are in pipeline 0 ('Общая').

with

bitrix24 as (

    select pipeline_id, pipeline_name, sort_order
    from {{ ref('stg_bitrix24__pipelines') }}
    where {{ crm_is('bitrix24') }}

),

amocrm as (

    select pipeline_id, pipeline_name, sort_order
    from {{ ref('stg_amocrm__pipelines') }}
    where {{ crm_is('amocrm') }}

),

export as (

    select
        coalesce(pipeline_key, 0) as pipeline_id,
        min(pipeline_name) as pipeline_name,
        cast(null as bigint) as sort_order
    from {{ ref('stg_export__deals') }}
    where {{ crm_is('export') }}
    group by 1

),

pipelines as (

    select pipeline_id, pipeline_name, sort_order from bitrix24
    union all
    select pipeline_id, pipeline_name, sort_order from amocrm
    union all
    select pipeline_id, pipeline_name, sort_order from export

),

stage_pipelines as (

    select distinct pipeline_id from {{ ref('stage') }}

),

final as (

    select
        cast(coalesce(pipelines.pipeline_id, stage_pipelines.pipeline_id) as bigint) as pipeline_id,
        cast(coalesce(
            pipelines.pipeline_name,
            case
                when stage_pipelines.pipeline_id = 0 then 'Общая'
                else 'Воронка ' || cast(stage_pipelines.pipeline_id as varchar)
            end
        ) as varchar) as pipeline_name,
        cast(coalesce(pipelines.sort_order, 0) as bigint) as sort_order

    from pipelines

    full outer join stage_pipelines
        on pipelines.pipeline_id = stage_pipelines.pipeline_id

)

select * from final
