-- Canonical activity: what a manager did, when (business day) and for how long.
-- Bitrix24 TYPE_ID: 1 meeting, 2 call, 3 task, 4 email, 6 provider item; DIRECTION 1 in, 2 out;
-- OWNER_TYPE_ID: 1 lead, 2 deal, 3 contact, 4 company.

with

activities as (

    select * from {{ ref('stg_bitrix24__activities') }}

),

final as (

    select
        activity_id,
        manager_id,
        case type_id
            when 1 then 'meeting'
            when 2 then 'call'
            when 3 then 'task'
            when 4 then 'email'
            when 6 then 'provider'
            else 'other'
        end as activity_type,
        case direction_id
            when 1 then 'in'
            when 2 then 'out'
        end as direction,
        is_completed,
        case owner_type_id
            when 1 then 'lead'
            when 2 then 'deal'
            when 3 then 'contact'
            when 4 then 'company'
            else 'other'
        end as owner_type,
        owner_id,
        provider_id,
        subject,
        created_at,
        start_at,
        end_at,
        deadline_at,
        -- when it happened: the start of a call or meeting, else when it was created
        coalesce(start_at, created_at) as occurred_at,
        {{ business_day('coalesce(start_at, created_at)') }} as day,
        case
            when end_at >= start_at
                then cast(extract(epoch from (end_at - start_at)) / 60.0 as numeric(18, 2))
        end as duration_minutes

    from activities

)

select * from final
