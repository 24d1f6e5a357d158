-- Canonical invoice (docs/KPI.md "1С"): an invoice issued in 1C, in its currency and in rubles at
-- the CBR rate of its day, with the CRM deal and / or company it bills. The cash a company still
-- expects is what its open invoices lack (mart_open_invoices). One `union all` branch per source.

with

onec as (

    select * from {{ ref('stg_onec__invoices') }}

),

invoices as (

    select
        'onec:' || onec.invoice_id as invoice_key,
        onec.invoice_id,
        onec.invoice_date as invoice_day,
        onec.deal_id,
        onec.company_id,
        onec.counterparty,
        onec.amount,
        coalesce(onec.currency_code, 'RUB') as currency_code,
        {{ to_rub('onec.amount', 'onec.currency_code') }} as amount_rub,
        onec.status,
        '1c' as invoice_source

    from onec

    {{ fx_join('onec.currency_code', 'onec.invoice_date') }}

    where onec.invoice_id is not null

)

select * from invoices
