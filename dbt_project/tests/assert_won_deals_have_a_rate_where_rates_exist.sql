{{ config(meta={"dagster": {"ref": {"name": "deal"}}}) }}

-- A won deal in a currency the CBR rates do cover must have a ruble amount: a gap in the loaded rates
-- would silently understate revenue. Currencies with no rate at all (the CBR source off, or failing
-- since the first load) are only warned about (not_null on deal.amount_rub, severity warn).

select
    deal.deal_id,
    deal.crm_source,
    deal.currency_code,
    deal.closed_day

from {{ ref('deal') }} as deal
where deal.is_won
    and deal.amount_rub is null
    and deal.currency_code in (select currency_code from {{ ref('fx_rate') }})
