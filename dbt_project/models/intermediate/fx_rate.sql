-- Canonical CBR rate: rubles per ONE unit of a currency, valid from its date until the next
-- published date (the CBR publishes no rate on weekends and holidays: the last one stays valid).

with

rates as (

    select * from {{ ref('stg_cbr__rates') }}

),

per_unit as (

    select
        rate_date,
        currency_code,
        cast(value_rub / nullif(nominal, 0) as numeric(24, 8)) as rub_per_unit

    from rates

),

final as (

    select
        rate_date,
        currency_code,
        rub_per_unit,
        rate_date as valid_from,
        lead(rate_date) over (partition by currency_code order by rate_date) as valid_to

    from per_unit

)

select * from final
