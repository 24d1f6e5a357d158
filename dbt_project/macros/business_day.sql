{#- The company's business day of an instant (docs/KPI.md "Time and money"): its date in var company_timezone.
    `timestamptz at time zone 'Zone'` gives the local wall-clock time on both DuckDB and PostgreSQL. -#}
{% macro business_day(expr) -%}
    cast(({{ expr }} at time zone '{{ var("company_timezone") }}') as date)
{%- endmacro %}

{#- The first day of the month of a date, portable. -#}
{% macro month_start(day_expr) -%}
    cast({{ dbt.date_trunc('month', day_expr) }} as date)
{%- endmacro %}
