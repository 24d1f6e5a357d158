-- Cash expected from open invoices (page Финансы), as of var as_of_day: each 1C invoice issued by
-- that day and not yet fully paid, with what is still due.
--   paid_amount         payments by that day quoting the invoice, in the invoice's currency (a
--                       payment in another currency is counted at both days' CBR rates via rubles)
--   outstanding_amount  amount - paid_amount, in the invoice's currency (open: more than 0.01 due)
--   outstanding_rub     the same in rubles at the CBR rate of the as-of day: the cash to expect today
--   days_open           days from the invoice to the as-of day
-- The manager and department are the billed deal's (none when 1C names no deal).

with

as_of as (

    select {{ as_of_day() }} as as_of_day

),

invoices as (

    select * from {{ ref('invoice') }}

),

payments as (

    select * from {{ ref('payment') }}

),

deals as (

    select * from {{ ref('mart_deals') }}

),

paid as (

    select
        invoices.invoice_key,
        sum(
            case
                when payments.currency_code = invoices.currency_code then payments.amount
                else payments.amount_rub * invoices.amount / nullif(invoices.amount_rub, 0)
            end
        ) as paid_amount

    from invoices

    inner join payments
        on payments.invoice_id = invoices.invoice_id

    cross join as_of

    where payments.paid_day <= as_of.as_of_day
    group by 1

),

due as (

    select
        as_of.as_of_day,
        invoices.*,
        coalesce(paid.paid_amount, 0) as paid_amount,
        invoices.amount - coalesce(paid.paid_amount, 0) as outstanding_amount

    from invoices

    cross join as_of

    left join paid
        on invoices.invoice_key = paid.invoice_key

    where invoices.invoice_day <= as_of.as_of_day

),

final as (

    select
        due.as_of_day,
        due.invoice_id,
        due.invoice_day,
        due.deal_id,
        deals.deal_title,
        deals.crm_url,
        due.counterparty,
        deals.manager_name,
        deals.department_name,
        due.status,
        due.currency_code,
        cast(due.amount as double precision) as amount,
        cast(due.amount_rub as double precision) as amount_rub,
        cast(due.paid_amount as double precision) as paid_amount,
        cast(due.outstanding_amount as double precision) as outstanding_amount,
        cast({{ to_rub('due.outstanding_amount', 'due.currency_code') }} as double precision) as outstanding_rub,
        cast(due.as_of_day - due.invoice_day as integer) as days_open

    from due

    {{ fx_join('due.currency_code', 'due.as_of_day') }}

    left join deals
        on due.deal_id = deals.deal_id

    where due.outstanding_amount > 0.01

)

select * from final
