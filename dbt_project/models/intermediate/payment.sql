-- Canonical payment (DOMAIN.md, cash view): 1C payments received, in their currency and in rubles.
-- Empty and typed until the 1C source lands: its staging model replaces the empty select below
-- (one `union all` branch per payment source); the marts already read this shape.

with

payments as (

    select
        cast(null as varchar) as payment_id,
        cast(null as varchar) as invoice_id,
        cast(null as bigint) as deal_id,
        cast(null as bigint) as company_id,
        cast(null as numeric(18, 2)) as amount,
        cast(null as varchar) as currency_code,
        cast(null as numeric(18, 2)) as amount_rub,
        cast(null as timestamp with time zone) as paid_at,
        cast(null as date) as paid_day,
        cast(null as varchar) as payment_source
    where 1 = 0

)

select * from payments
