-- One source of truth (docs/KPI.md), per month: leads the ad platforms count, leads in the CRM,
-- deals won in the CRM, payments in 1C, and the gaps between them in %. A source that has not landed
-- yet (ad platforms, 1C) reads null, not zero, so "no data" never looks like "no sales".
--   gap_crm_vs_ad_leads_pct     (CRM leads - platform leads) / platform leads x 100
--   lead_to_won_pct             CRM won deals / CRM leads x 100 (the month's counts, not a cohort)
--   lead_conversion_pct         leads created in the month that became deals / leads created in the
--                               month x 100 (docs/KPI.md's lead conversion: a cohort measure)
--   gap_payments_vs_won_pct     (1C payments rub - CRM won rub) / CRM won rub x 100

with

leads as (

    select * from {{ ref('lead') }}

),

deals as (

    select * from {{ ref('deal') }}

),

payments as (

    select * from {{ ref('payment') }}

),

ad_spend as (

    select * from {{ ref('ad_spend') }}

),

facts as (

    select {{ month_start('created_day') }} as month, 'crm_leads' as measure, 1 as n, 0 as rub
    from leads
    union all
    select {{ month_start('created_day') }}, 'crm_leads_converted', 1, 0
    from leads where is_converted
    union all
    select {{ month_start('closed_day') }}, 'crm_won', 1, amount_rub
    from deals where is_won
    union all
    select {{ month_start('paid_day') }}, 'payments', 1, amount_rub
    from payments
    union all
    select {{ month_start('day') }}, 'ad_leads', platform_leads, 0
    from ad_spend

),

monthly as (

    select
        month,
        sum(case when measure = 'ad_leads' then n end) as ad_platform_leads,
        sum(case when measure = 'crm_leads' then n end) as crm_leads,
        sum(case when measure = 'crm_leads_converted' then n end) as crm_leads_converted,
        sum(case when measure = 'crm_won' then n end) as crm_won_count,
        sum(case when measure = 'crm_won' then rub end) as crm_won_rub,
        sum(case when measure = 'payments' then n end) as payments_count,
        sum(case when measure = 'payments' then rub end) as payments_rub

    from facts
    where month is not null
    group by month

),

final as (

    select
        month,
        cast(ad_platform_leads as bigint) as ad_platform_leads,
        cast(coalesce(crm_leads, 0) as bigint) as crm_leads,
        cast(coalesce(crm_leads_converted, 0) as bigint) as crm_leads_converted,
        cast(round(cast(100.0 * coalesce(crm_leads_converted, 0) / nullif(crm_leads, 0) as numeric(38, 10)), 2)
            as double precision) as lead_conversion_pct,
        cast(coalesce(crm_won_count, 0) as bigint) as crm_won_count,
        cast(coalesce(crm_won_rub, 0) as double precision) as crm_won_rub,
        cast(payments_count as bigint) as payments_count,
        cast(payments_rub as double precision) as payments_rub,
        cast(round(cast(100.0 * (coalesce(crm_leads, 0) - ad_platform_leads) / nullif(ad_platform_leads, 0)
            as numeric(38, 10)), 2) as double precision) as gap_crm_vs_ad_leads_pct,
        cast(round(cast(100.0 * coalesce(crm_won_count, 0) / nullif(crm_leads, 0) as numeric(38, 10)), 2)
            as double precision) as lead_to_won_pct,
        cast(round(cast(100.0 * (payments_rub - coalesce(crm_won_rub, 0)) / nullif(crm_won_rub, 0)
            as numeric(38, 10)), 2) as double precision) as gap_payments_vs_won_pct

    from monthly

)

select * from final
