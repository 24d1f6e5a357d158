{#- Casts for raw columns whose loaded type is not guaranteed: Bitrix24 sends every value as a
    string ("19999.99", "", "Y"), and dlt may keep a column as text or infer a type. Going through
    text first makes each cast work for either, on DuckDB and PostgreSQL alike. -#}

{% macro raw_text(expr) -%}
    nullif(trim(cast({{ expr }} as varchar)), '')
{%- endmacro %}

{% macro raw_int(expr) -%}
    cast({{ raw_text(expr) }} as bigint)
{%- endmacro %}

{% macro raw_money(expr) -%}
    cast(replace({{ raw_text(expr) }}, ',', '.') as numeric(18, 2))
{%- endmacro %}

{% macro raw_decimal(expr, scale=6) -%}
    cast(replace({{ raw_text(expr) }}, ',', '.') as numeric(24, {{ scale }}))
{%- endmacro %}

{#- Bitrix24 flags: "Y"/"N"; user.get ACTIVE is a JSON boolean. -#}
{% macro raw_flag(expr) -%}
    coalesce(upper({{ raw_text(expr) }}) in ('Y', 'TRUE', '1', 'T'), false)
{%- endmacro %}

{#- An absolute instant (timestamptz). Bitrix24 strings carry their offset (+03:00), and dlt lands
    ISO strings as timestamptz (UTC), so the result never depends on the session time zone. -#}
{% macro raw_timestamp(expr) -%}
    cast({{ raw_text(expr) }} as timestamp with time zone)
{%- endmacro %}

{% macro raw_date(expr) -%}
    cast(left({{ raw_text(expr) }}, 10) as date)
{%- endmacro %}
