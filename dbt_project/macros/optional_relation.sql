{#- Sources that are still being added (stage history, calls, payments, ad spend, ...) may not have
    a raw table yet in a given warehouse. `optional_relation` gives the relation when it exists and
    none otherwise, so an intermediate model can union what exists and stay an empty, typed table
    until the rest lands: the project builds on a young warehouse, and the marts never change. -#}
{% macro optional_relation(schema, identifier) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=target.database, schema=schema, identifier=identifier)) }}
{%- endmacro %}
