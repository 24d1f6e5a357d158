-- Canonical lead: when it came, from which channel, to whom, and the deal it became (if any).
-- From the company's one CRM (var crm, macros/crm.sql):
-- - Bitrix24 leads (a separate entity), converted when a deal names the lead.
-- - amoCRM has no separate lead entity: its "lead" is the deal. Every amoCRM lead is therefore also
--   a canonical lead, converted to itself (converted_deal_id = lead_id) once it got past the first
--   open stage of its pipeline (the lowest sort among statuses other than 142 / 143: the "unsorted"
--   inbox, or the first stage where there is none) - now or at any time in its status history - or
--   was won; junk when it was lost without ever leaving that first stage; open while it sits there.
--   closed_at is when it first moved past the first stage (its creation when it came in beyond it;
--   its close for junk). So the lead KPIs read "of the requests that came in, how many were worked".
-- - Export files: the mapping's leads (ids are the ingestion-time bigint surrogates), converted when
--   an exported deal names the lead; junk when closed without a deal; else open.

with

bitrix24_leads as (

    -- records deleted in the CRM are kept in raw (marked) but are no longer leads
    select * from {{ ref('stg_bitrix24__leads') }}
    where {{ crm_is('bitrix24') }}
        and not is_deleted

),

bitrix24_deals as (

    select * from {{ ref('stg_bitrix24__deals') }}
    where {{ crm_is('bitrix24') }}
        and not is_deleted

),

bitrix24_first_deal as (

    select
        lead_id,
        min(deal_id) as converted_deal_id

    from bitrix24_deals
    where lead_id is not null
    group by lead_id

),

bitrix24 as (

    select
        bitrix24_leads.lead_id,
        cast(bitrix24_leads.lead_id as varchar) as lead_number,
        bitrix24_leads.manager_id,
        bitrix24_leads.source_id as channel,
        bitrix24_leads.utm_source,
        bitrix24_leads.utm_medium,
        bitrix24_leads.utm_campaign,
        bitrix24_leads.status_id,
        case bitrix24_leads.status_semantic_id
            when 'S' then 'converted'
            when 'F' then 'junk'
            else 'open'
        end as status_semantic,
        bitrix24_first_deal.converted_deal_id,
        'bitrix24' as crm_source,
        bitrix24_leads.created_at,
        bitrix24_leads.modified_at,
        bitrix24_leads.closed_at

    from bitrix24_leads

    left join bitrix24_first_deal
        on bitrix24_leads.lead_id = bitrix24_first_deal.lead_id

),

amocrm_leads as (

    {{ amocrm_live_leads() }}

),

amocrm_first_status as (

    -- each pipeline's first open status: the lowest sort (ties: the lowest id)
    select pipeline_id, status_id
    from (
        select
            pipeline_id,
            status_id,
            row_number() over (partition by pipeline_id order by sort_order, status_id) as status_rank
        from {{ ref('stg_amocrm__statuses') }}
        where status_id not in (142, 143)
    ) as ranked
    where status_rank = 1

),

amocrm_moves as (

    -- the first time each lead entered a status beyond its pipeline's first (lost does not count)
    select
        changes.lead_id,
        min(changes.changed_at) as first_moved_at

    from {{ ref('stg_amocrm__status_changes') }} as changes

    left join amocrm_first_status as first_status
        on changes.pipeline_id = first_status.pipeline_id

    where changes.status_id <> 143
        and changes.status_id is distinct from first_status.status_id
    group by changes.lead_id

),

amocrm_classified as (

    select
        amocrm_leads.*,
        case
            when amocrm_moves.first_moved_at is not null then amocrm_moves.first_moved_at
            when amocrm_leads.status_id <> 143
                and amocrm_leads.status_id is distinct from first_status.status_id
                then amocrm_leads.created_at
        end as converted_at

    from amocrm_leads

    left join amocrm_first_status as first_status
        on amocrm_leads.pipeline_id = first_status.pipeline_id

    left join amocrm_moves
        on amocrm_leads.lead_id = amocrm_moves.lead_id

),

amocrm as (

    select
        lead_id,
        cast(lead_id as varchar) as lead_number,
        manager_id,
        cast(source_id as varchar) as channel,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        {{ amocrm_stage_id('pipeline_id', 'status_id') }} as status_id,
        case
            when converted_at is not null then 'converted'
            when status_id = 143 then 'junk'
            else 'open'
        end as status_semantic,
        case when converted_at is not null then lead_id end as converted_deal_id,
        'amocrm' as crm_source,
        created_at,
        updated_at as modified_at,
        case
            when converted_at is not null then converted_at
            when status_id = 143 then coalesce(closed_at, updated_at)
        end as closed_at

    from amocrm_classified

),

export_leads as (

    select * from {{ ref('stg_export__leads') }}
    where {{ crm_is('export') }}
        and lead_id_key is not null

),

export_first_deal as (

    select
        lead_id_key,
        min(deal_id_key) as converted_deal_id

    from {{ ref('stg_export__deals') }}
    where {{ crm_is('export') }}
        and lead_id_key is not null
    group by lead_id_key

),

export as (

    select
        export_leads.lead_id_key as lead_id,
        export_leads.lead_id as lead_number,
        export_leads.manager_key as manager_id,
        export_leads.source_name as channel,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        export_leads.status_name as status_id,
        case
            when export_first_deal.converted_deal_id is not null then 'converted'
            when export_leads.closed_at is not null then 'junk'
            else 'open'
        end as status_semantic,
        export_first_deal.converted_deal_id,
        'export' as crm_source,
        export_leads.created_at,
        coalesce(export_leads.closed_at, export_leads.created_at) as modified_at,
        export_leads.closed_at

    from export_leads

    left join export_first_deal
        on export_leads.lead_id_key = export_first_deal.lead_id_key

),

unioned as (

    select * from bitrix24
    union all
    select * from amocrm
    union all
    select * from export

),

final as (

    select
        cast(lead_id as bigint) as lead_id,
        -- the key the CRM shows (an export's text id rather than its surrogate)
        cast(lead_number as varchar) as lead_number,
        cast(manager_id as bigint) as manager_id,
        cast(channel as varchar) as channel,
        cast(utm_source as varchar) as utm_source,
        cast(utm_medium as varchar) as utm_medium,
        cast(utm_campaign as varchar) as utm_campaign,
        cast(status_id as varchar) as status_id,
        status_semantic,
        cast(converted_deal_id as bigint) as converted_deal_id,
        converted_deal_id is not null as is_converted,
        crm_source,
        created_at,
        modified_at,
        closed_at,
        {{ business_day('created_at') }} as created_day

    from unioned

)

select * from final
