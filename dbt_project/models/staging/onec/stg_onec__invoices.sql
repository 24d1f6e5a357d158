-- One row per 1C invoice: number, date, amount and currency, the CRM deal and/or company it bills.
{%- set src = source('raw_onec', 'invoices') %}
{%- set rel = optional_relation(src.schema, src.identifier) %}

with

source as (

{%- if rel is not none %}
    select * from {{ src }}
{%- else %}
    select cast(null as varchar) as invoice_number, cast(null as date) as invoice_date, cast(null as bigint) as deal_id,
           cast(null as bigint) as company_id, cast(null as varchar) as counterparty,
           cast(null as numeric(24, 6)) as amount, cast(null as varchar) as currency, cast(null as varchar) as status
    where 1 = 0
{%- endif %}

),

renamed as (

    select
        {{ raw_text('invoice_number') }} as invoice_id,
        {{ raw_date('invoice_date') }} as invoice_date,
        {{ raw_int('deal_id') }} as deal_id,
        {{ raw_int('company_id') }} as company_id,
        {{ raw_text('counterparty') }} as counterparty,
        {{ raw_money('amount') }} as amount,
        upper({{ raw_text('currency') }}) as currency_code,
        {{ raw_text('status') }} as status

    from source

)

select * from renamed
