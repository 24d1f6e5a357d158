-- One row per CBR published rate: date x currency; `value` rubles buy `nominal` units.

with

source as (

    select * from {{ source('raw_cbr', 'rates') }}

),

renamed as (

    select
        {{ raw_date('"date"') }} as rate_date,
        upper({{ raw_text('char_code') }}) as currency_code,
        {{ raw_int('nominal') }} as nominal,
        {{ raw_decimal('value', 6) }} as value_rub

    from source

)

select * from renamed
