{#- The amoCRM and CRM-export sources join the graph only when configured, and the export's optional
    entities (leads, activities, managers, quarantine) exist only when the mapping names them. Their
    staging models read `raw_source_or_empty(...)`, which is the source relation when it exists and an
    empty one-column select otherwise; every column is then read through `optional_column` (which
    yields a typed null for a missing column), so the model builds as an empty, typed view.
    `source()` is always called, so the lineage from the dlt asset stays in the graph. -#}
{% macro raw_source_or_empty(source_name, table_name) -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- if execute and optional_relation(rel.schema, rel.identifier, rel.database) is none -%}
        (select 1 as no_rows_yet where 1 = 0) as not_loaded_yet
    {%- else -%}
        {{ rel }}
    {%- endif -%}
{%- endmacro %}

{#- The columns of a raw table that may not exist yet ([] when it does not). -#}
{% macro raw_source_columns(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- set found = optional_relation(rel.schema, rel.identifier, rel.database) -%}
    {{ return(column_names(found) if found is not none else []) }}
{%- endmacro %}

{#- amoCRM times are Unix seconds (UTC) -> an absolute instant (timestamptz), on DuckDB and PostgreSQL. -#}
{% macro unix_to_timestamptz(expr) -%}
    to_timestamp(cast({{ expr }} as bigint))
{%- endmacro %}
