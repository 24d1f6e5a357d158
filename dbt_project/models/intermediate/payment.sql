-- Canonical payment (docs/KPI.md, cash view): 1C payments received, in their currency and in rubles
-- at the CBR rate of the payment day. One `union all` branch per payment source.

with

onec as (

    select * from {{ ref('stg_onec__payments') }}

),

payments as (

    select
        'onec:' || onec.payment_id as payment_id,
        onec.invoice_id,
        onec.deal_id,
        onec.company_id,
        onec.amount,
        coalesce(onec.currency_code, 'RUB') as currency_code,
        {{ to_rub('onec.amount', 'onec.currency_code') }} as amount_rub,
        cast(onec.paid_day as timestamp with time zone) as paid_at,
        onec.paid_day,
        '1c' as payment_source

    from onec

    {{ fx_join('onec.currency_code', 'onec.paid_day') }}

    where onec.payment_id is not null

)

select * from payments
