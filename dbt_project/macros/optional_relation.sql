{#- Sources that are still being added (stage history, calls, payments, ad spend, ...) may not have
    a raw table yet in a given warehouse. `optional_relation` gives the relation when it exists and
    none otherwise, so an intermediate model can union what exists and stay an empty, typed table
    until the rest lands: the project builds on a young warehouse, and the marts never change.

    It asks the warehouse's catalog, never dbt's relations cache: dbt caches only the schemas its own
    models live in, and lists any other schema on demand, adding its tables to the cache one by one. A
    model compiling on another thread meanwhile (PostgreSQL builds with 4) found the raw schema
    "cached" with half its tables and took an existing table for an absent one: once, under load, the
    amoCRM calls compiled as an empty source and every call vanished from the warehouse, silently. -#}
{% macro optional_relation(schema, identifier, database=none) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set database = database or target.database -%}
    {%- set found = run_query(
        "select table_type from information_schema.tables where table_catalog = '" ~ database
        ~ "' and table_schema = '" ~ schema ~ "' and table_name = '" ~ identifier ~ "'") -%}
    {%- if found is none or (found.rows | length) == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(api.Relation.create(database=database, schema=schema, identifier=identifier,
                                  type='view' if found.rows[0][0] == 'VIEW' else 'table')) }}
{%- endmacro %}
