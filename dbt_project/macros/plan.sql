{#- The plan rules of docs/KPI.md, written once: every level of mart_plan_fact (line, manager,
    department, company) is judged by the same formula and the same vars, and the report and the
    insights read the results instead of restating them. -#}

{#- Fulfilment % = actual / plan x 100, two decimals; null without a plan (plan 0). The numeric cast
    lets PostgreSQL round a double to two places. -#}
{% macro fulfilment_pct(actual_expr, plan_expr) -%}
    cast(
        case
            when {{ plan_expr }} > 0
                then round(cast(100.0 * {{ actual_expr }} / {{ plan_expr }} as numeric(38, 10)), 2)
        end as double precision
    )
{%- endmacro %}

{#- The fulfilment colour: red below var plan_red_below_pct, yellow up to below var
    plan_green_from_pct, green from it; null without a plan. -#}
{% macro plan_colour(pct_expr) -%}
    case
        when {{ pct_expr }} is null then null
        when {{ pct_expr }} < {{ var('plan_red_below_pct') }} then 'red'
        when {{ pct_expr }} < {{ var('plan_green_from_pct') }} then 'yellow'
        else 'green'
    end
{%- endmacro %}
