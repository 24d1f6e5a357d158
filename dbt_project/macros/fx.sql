{#- Rubles at the CBR rate valid on a day (docs/KPI.md "Time and money"): join `fx_rate` as `fx` on the currency and
    the day; RUB (and RUR, and a missing currency) is 1. Used by every canonical money model. -#}
{% macro fx_join(currency_expr, day_expr) -%}
    left join {{ ref('fx_rate') }} as fx
        on {{ currency_expr }} = fx.currency_code
        and {{ day_expr }} >= fx.valid_from
        and (fx.valid_to is null or {{ day_expr }} < fx.valid_to)
{%- endmacro %}

{% macro to_rub(amount_expr, currency_expr) -%}
    cast(round({{ amount_expr }} * case
        when {{ currency_expr }} in ('RUB', 'RUR') or {{ currency_expr }} is null then 1
        else fx.rub_per_unit
    end, 2) as numeric(18, 2))
{%- endmacro %}
