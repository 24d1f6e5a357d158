-- Canonical deal: amount in its currency and in rubles, won / lost, and the business days of its
-- creation and close. Rubles use the CBR rate of the close day (of the creation day while open),
-- or the last rate published before that day; RUB is 1.

with

deals as (

    -- records deleted in the CRM are kept in raw (marked) but are no longer deals
    select * from {{ ref('stg_bitrix24__deals') }}
    where not is_deleted

),

stages as (

    select * from {{ ref('stage') }}

),

fx_rates as (

    select * from {{ ref('fx_rate') }}

),

classified as (

    select
        deals.*,
        -- STAGE_SEMANTIC_ID is authoritative; the stage list covers portals that omit it
        case
            when deals.stage_semantic_id = 'S' then 'won'
            when deals.stage_semantic_id = 'F' then 'lost'
            when deals.stage_semantic_id = 'P' then 'open'
            else coalesce(stages.semantic, 'open')
        end as semantic

    from deals

    left join stages
        on deals.stage_id = stages.stage_id

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
        'bitrix24' as crm_source,

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
