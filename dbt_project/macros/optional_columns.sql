{#- dlt creates a column only once some row carries a value for it (an all-empty field is never
    created). Staging selects such optional fields through `optional_column`, which yields a typed
    null when the column does not exist yet, so a small or young portal still builds. -#}

{% macro column_names(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for col in adapter.get_columns_in_relation(relation) -%}
        {%- do names.append(col.name | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro optional_column(names, name, sql_type='varchar') -%}
    {%- if not execute or (name | lower) in names -%}
        {{ adapter.quote(name) }}
    {%- else -%}
        cast(null as {{ sql_type }})
    {%- endif -%}
{%- endmacro %}
