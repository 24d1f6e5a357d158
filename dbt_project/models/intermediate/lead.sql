-- Canonical lead: when it came, from which channel, to whom, and the deal it became (if any).

with

leads as (

    -- records deleted in the CRM are kept in raw (marked) but are no longer leads
    select * from {{ ref('stg_bitrix24__leads') }}
    where not is_deleted

),

deals as (

    select * from {{ ref('stg_bitrix24__deals') }}
    where not is_deleted

),

first_deal as (

    select
        lead_id,
        min(deal_id) as converted_deal_id

    from deals
    where lead_id is not null
    group by lead_id

),

final as (

    select
        leads.lead_id,
        leads.manager_id,
        leads.source_id as channel,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.status_id,
        case leads.status_semantic_id
            when 'S' then 'converted'
            when 'F' then 'junk'
            else 'open'
        end as status_semantic,
        first_deal.converted_deal_id,
        first_deal.converted_deal_id is not null as is_converted,
        'bitrix24' as crm_source,
        leads.created_at,
        leads.modified_at,
        leads.closed_at,
        {{ business_day('leads.created_at') }} as created_day

    from leads

    left join first_deal
        on leads.lead_id = first_deal.lead_id

)

select * from final
