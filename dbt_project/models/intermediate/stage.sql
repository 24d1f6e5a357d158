-- Canonical deal stage: pipeline, order and semantic (open / won / lost). Bitrix24 lists the stages
-- of pipeline 0 under ENTITY_ID DEAL_STAGE and of pipeline N under DEAL_STAGE_N (ids "CN:...").

with

statuses as (

    select * from {{ ref('stg_bitrix24__stages') }}

),

deal_stages as (

    select * from statuses
    where entity_id = 'DEAL_STAGE' or entity_id like 'DEAL_STAGE_%'

),

final as (

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

    from deal_stages

)

select * from final
