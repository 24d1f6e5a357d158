{#- Schemas are exactly `staging`, `core`, `marts` (not dbt's default `<target schema>_<custom>`),
    so every tool and person reads the same names on DuckDB and PostgreSQL. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
