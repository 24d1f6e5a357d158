-- Canonical deal: amount in its currency and in rubles, won / lost, and the business days of its
-- creation and close. Rubles use the CBR rate of the close day (of the creation day while open),
-- or the last rate published before that day; RUB is 1.
-- From the company's one CRM (var crm, macros/crm.sql):
-- - Bitrix24 deals.
-- - amoCRM "leads", which are its deals: status 142 won, 143 lost; stage_id the status id as text
--   ('<pipeline>:142' / ':143' for the shared system statuses, see stage); the loss reason by name;
--   prices in the account's currency, taken as rubles (the account currency is not ingested).
--   A lead is its own canonical lead too (see lead), so lead_id = deal_id.
-- - Export files: ids are the ingestion-time bigint surrogates of the text ids (deal_id_key, ...;
--   assets/ingest/export/reader.py surrogate_key), deal_number the text id itself; the pipeline 0 when the export names none;
--   amounts in the row's currency, else the mapping's declared one, else rubles; a deal without a
--   creation date (Maven's Prospecting deals) keeps created_at null.
-- Return customer (amoCRM, export): the company / account already had a won deal closed before
-- this one was created.

with

bitrix24_deals as (

    -- records deleted in the CRM are kept in raw (marked) but are no longer deals
    select * from {{ ref('stg_bitrix24__deals') }}
    where {{ crm_is('bitrix24') }}
        and not is_deleted

),

stages as (

    select * from {{ ref('stage') }}

),

fx_rates as (

    select * from {{ ref('fx_rate') }}

),

bitrix24 as (

    select
        bitrix24_deals.deal_id,
        cast(bitrix24_deals.deal_id as varchar) as deal_number,
        bitrix24_deals.pipeline_id,
        bitrix24_deals.stage_id,
        bitrix24_deals.manager_id,
        bitrix24_deals.company_id,
        bitrix24_deals.contact_id,
        bitrix24_deals.lead_id,
        bitrix24_deals.source_id,
        bitrix24_deals.utm_source,
        bitrix24_deals.utm_medium,
        bitrix24_deals.utm_campaign,
        'bitrix24' as crm_source,
        bitrix24_deals.deal_title,
        -- STAGE_SEMANTIC_ID is authoritative; the stage list covers portals that omit it
        case
            when bitrix24_deals.stage_semantic_id = 'S' then 'won'
            when bitrix24_deals.stage_semantic_id = 'F' then 'lost'
            when bitrix24_deals.stage_semantic_id = 'P' then 'open'
            else coalesce(stages.semantic, 'open')
        end as semantic,
        bitrix24_deals.product,
        bitrix24_deals.lost_reason,
        bitrix24_deals.is_return_customer,
        bitrix24_deals.amount,
        bitrix24_deals.currency_code,
        bitrix24_deals.created_at,
        bitrix24_deals.modified_at,
        bitrix24_deals.close_date_at

    from bitrix24_deals

    left join stages
        on bitrix24_deals.stage_id = stages.stage_id

),

amocrm_leads as (

    {{ amocrm_live_leads() }}

),

amocrm_loss_reasons as (

    select * from {{ ref('stg_amocrm__loss_reasons') }}

),

amocrm as (

    select
        amocrm_leads.lead_id as deal_id,
        cast(amocrm_leads.lead_id as varchar) as deal_number,
        amocrm_leads.pipeline_id,
        {{ amocrm_stage_id('amocrm_leads.pipeline_id', 'amocrm_leads.status_id') }} as stage_id,
        amocrm_leads.manager_id,
        amocrm_leads.company_id,
        cast(null as bigint) as contact_id,
        amocrm_leads.lead_id,
        cast(amocrm_leads.source_id as varchar) as source_id,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        'amocrm' as crm_source,
        amocrm_leads.lead_name as deal_title,
        amocrm_leads.status as semantic,
        cast(null as varchar) as product,
        coalesce(amocrm_leads.lost_reason, amocrm_loss_reasons.loss_reason_name) as lost_reason,
        cast(null as boolean) as is_return_customer,
        amocrm_leads.amount,
        cast(null as varchar) as currency_code,
        amocrm_leads.created_at,
        amocrm_leads.updated_at as modified_at,
        amocrm_leads.closed_at as close_date_at

    from amocrm_leads

    left join amocrm_loss_reasons
        on amocrm_leads.loss_reason_id = amocrm_loss_reasons.loss_reason_id

),

export as (

    select
        export_deals.deal_id_key as deal_id,
        export_deals.deal_id as deal_number,
        coalesce(pipeline_key, 0) as pipeline_id,
        {{ export_stage_id('pipeline_key', 'stage_name', 'status') }} as stage_id,
        manager_key as manager_id,
        account_key as company_id,
        cast(null as bigint) as contact_id,
        lead_id_key as lead_id,
        source_name as source_id,
        cast(null as varchar) as utm_source,
        cast(null as varchar) as utm_medium,
        cast(null as varchar) as utm_campaign,
        'export' as crm_source,
        deal_title,
        status as semantic,
        product,
        lost_reason,
        cast(null as boolean) as is_return_customer,
        amount,
        currency_code,
        created_at,
        coalesce(closed_at, created_at) as modified_at,
        closed_at as close_date_at

    from {{ ref('stg_export__deals') }} as export_deals
    where {{ crm_is('export') }}
        and export_deals.deal_id_key is not null

),

unioned as (

    select * from bitrix24
    union all
    select * from amocrm
    union all
    select * from export

),

earlier_wins as (

    -- amoCRM and export: a deal of a company that already had a won deal closed before it was created
    select distinct later.crm_source, later.deal_id

    from unioned as later

    inner join unioned as earlier
        on later.company_id = earlier.company_id
        and later.crm_source = earlier.crm_source
        and earlier.semantic = 'won'
        and coalesce(earlier.close_date_at, earlier.modified_at) < later.created_at

    where later.crm_source <> 'bitrix24'

),

classified as (

    select
        unioned.deal_id,
        unioned.deal_number,
        unioned.pipeline_id,
        unioned.stage_id,
        unioned.manager_id,
        unioned.company_id,
        unioned.contact_id,
        unioned.lead_id,
        unioned.source_id,
        unioned.utm_source,
        unioned.utm_medium,
        unioned.utm_campaign,
        unioned.crm_source,
        unioned.deal_title,
        unioned.semantic,
        unioned.product,
        unioned.lost_reason,
        case
            when unioned.crm_source = 'bitrix24' then unioned.is_return_customer
            else earlier_wins.deal_id is not null
        end as is_return_customer,
        unioned.amount,
        unioned.currency_code,
        unioned.created_at,
        unioned.modified_at,
        unioned.close_date_at

    from unioned

    left join earlier_wins
        on unioned.crm_source = earlier_wins.crm_source
        and unioned.deal_id = earlier_wins.deal_id

),

dated as (

    select
        classified.*,
        case
            when semantic in ('won', 'lost') then coalesce(close_date_at, modified_at)
        end as closed_at

    from classified

),

with_days as (

    select
        dated.*,
        {{ business_day('created_at') }} as created_day,
        {{ business_day('closed_at') }} as closed_day

    from dated

),

converted as (

    select
        with_days.*,
        case
            when with_days.currency_code in ('RUB', 'RUR') or with_days.currency_code is null then 1
            else fx_rates.rub_per_unit
        end as fx_rub_per_unit,
        fx_rates.rate_date as fx_rate_date

    from with_days

    left join fx_rates
        on with_days.currency_code = fx_rates.currency_code
        and coalesce(with_days.closed_day, with_days.created_day) >= fx_rates.valid_from
        and (
            fx_rates.valid_to is null
            or coalesce(with_days.closed_day, with_days.created_day) < fx_rates.valid_to
        )

),

final as (

    select

        ---------- ids
        deal_id,
        -- the key the CRM shows: its own id, an export's text id ("1C1I7A6R") rather than the surrogate
        deal_number,
        pipeline_id,
        stage_id,
        manager_id,
        company_id,
        contact_id,
        lead_id,
        source_id as channel,
        utm_source,
        utm_medium,
        utm_campaign,
        crm_source,

        ---------- text
        deal_title,
        semantic,
        product,
        case when semantic = 'lost' then lost_reason end as lost_reason,
        is_return_customer,

        ---------- money
        amount,
        coalesce(currency_code, 'RUB') as currency_code,
        fx_rate_date,
        cast(round(amount * fx_rub_per_unit, 2) as numeric(18, 2)) as amount_rub,

        ---------- booleans
        semantic = 'won' as is_won,
        semantic = 'lost' as is_lost,
        semantic in ('won', 'lost') as is_closed,

        ---------- timestamps (UTC) and business days (company time zone)
        created_at,
        modified_at,
        closed_at,
        created_day,
        closed_day,
        closed_day - created_day as cycle_days,
        -- an open deal's CLOSEDATE is its expected close date (overdue deals)
        case when semantic = 'open' then {{ business_day('close_date_at') }} end as expected_close_day

    from converted

)

select * from final
