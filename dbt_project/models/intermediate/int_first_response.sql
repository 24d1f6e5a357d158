-- Response time (docs/KPI.md): for each lead and deal, its creation and the first outgoing call,
-- e-mail or message on it by a manager at or after that moment, in minutes. Attributed to the
-- entity's manager and the business day it was created. (Missed inbound calls join here once the
-- telephony source brings client phone hashes to match call-backs on.)

with

leads as (

    select * from {{ ref('lead') }}

),

deals as (

    select * from {{ ref('deal') }}

),

activities as (

    select * from {{ ref('activity') }}

),

entities as (

    select 'lead' as entity_type, lead_id as entity_id, manager_id, created_at, created_day from leads
    union all
    select 'deal' as entity_type, deal_id as entity_id, manager_id, created_at, created_day from deals

),

responses as (

    select
        entities.entity_type,
        entities.entity_id,
        min(activities.occurred_at) as first_response_at

    from entities

    inner join activities
        on activities.owner_type = entities.entity_type
        and activities.owner_id = entities.entity_id
        and activities.occurred_at >= entities.created_at

    where activities.direction = 'out'
        and activities.activity_type in ('call', 'email', 'message')
    group by 1, 2

),

final as (

    select
        entities.entity_type,
        entities.entity_id,
        entities.manager_id,
        entities.created_at,
        entities.created_day,
        responses.first_response_at,
        {{ minutes_between('entities.created_at', 'responses.first_response_at') }} as response_minutes

    from entities

    left join responses
        on entities.entity_type = responses.entity_type
        and entities.entity_id = responses.entity_id

)

select * from final
