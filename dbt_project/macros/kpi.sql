{#- Portable building blocks of the KPI definitions (DuckDB and PostgreSQL alike). -#}

{#- Median (docs/KPI.md: deal cycle, time in stage, response time): the ordered-set aggregate both
    warehouses share. -#}
{% macro median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{#- Minutes between two instants (timestamptz), as double precision. -#}
{% macro minutes_between(start_expr, end_expr) -%}
    cast(extract(epoch from ({{ end_expr }} - {{ start_expr }})) / 60.0 as double precision)
{%- endmacro %}

{#- a / b, null when b is 0 or null. -#}
{% macro safe_div(a, b) -%}
    (cast({{ a }} as double precision) / nullif(cast({{ b }} as double precision), 0))
{%- endmacro %}

{#- A date shifted by whole months or years (Mar 31 - 1 month = Feb 28 on both warehouses). -#}
{% macro shift_months(day_expr, months) -%}
    cast({{ day_expr }} + interval '{{ months }} month' as date)
{%- endmacro %}

{#- The local wall-clock time of an instant in the company's zone (timestamp without zone). -#}
{% macro local_time(expr) -%}
    ({{ expr }} at time zone '{{ var("company_timezone") }}')
{%- endmacro %}

{#- "Today" for snapshot measures: var as_of_day, or the last business day with any CRM event
    (the calendar's last day), as a scalar subquery. -#}
{% macro as_of_day() -%}
    {%- if var('as_of_day', '') -%}
        cast('{{ var("as_of_day") }}' as date)
    {%- else -%}
        (select max(day) from {{ ref('calendar') }})
    {%- endif -%}
{%- endmacro %}

{#- Activity index points of an activity type (vars activity_points). -#}
{% macro activity_points(type_expr, completed_expr) -%}
    {%- set points = var('activity_points') -%}
    case
        when {{ type_expr }} = 'meeting' then {{ points['meeting'] }}
        when {{ type_expr }} = 'call' then {{ points['call'] }}
        when {{ type_expr }} = 'email' then {{ points['email'] }}
        when {{ type_expr }} = 'message' then {{ points['message'] }}
        when {{ type_expr }} = 'task' and {{ completed_expr }} then {{ points['task'] }}
        when {{ type_expr }} = 'comment' then {{ points['comment'] }}
        else 0
    end
{%- endmacro %}

{#- The CRM card of a lead or deal (var crm_base_url): Bitrix24's card paths; amoCRM's card of its lead
    (which is both the canonical deal and lead) is <base>/leads/detail/<id>; export files have no card. -#}
{% macro crm_url(entity, id_expr) -%}
    {%- set crm = active_crm() -%}
    {%- if crm == 'amocrm' -%}
        '{{ var("crm_base_url") | trim("/") }}/leads/detail/' || cast({{ id_expr }} as varchar)
    {%- elif crm == 'export' -%}
        cast(null as varchar)
    {%- else -%}
        '{{ var("crm_base_url") | trim("/") }}/crm/{{ entity }}/details/' || cast({{ id_expr }} as varchar) || '/'
    {%- endif -%}
{%- endmacro %}

{#- The bonus of the highest deal-count tier reached: tiers = [{won_deals: N, bonus_rub: X}, ...]. -#}
{% macro deal_tier_bonus(won_count_expr, tiers) -%}
    {%- if tiers | length == 0 -%}
    0
    {%- else -%}
    case
        {%- for tier in tiers | sort(attribute='won_deals', reverse=True) %}
        when {{ won_count_expr }} >= {{ tier['won_deals'] }} then {{ tier['bonus_rub'] }}
        {%- endfor %}
        else 0
    end
    {%- endif -%}
{%- endmacro %}
