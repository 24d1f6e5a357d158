{#- The company's ONE CRM (var `crm`, dbt_project.yml): the canonical deal, lead, manager, pipeline,
    stage, stage_history and activity come from it alone, never from a union of two CRMs describing
    the same company (the demo amoCRM portal serves the same world as the Bitrix24 one: a union would
    double everything). `auto` picks the first of bitrix24, amocrm, export whose raw deals table
    exists and has a row. Decided at compile time, so the models' SQL carries a constant; each
    intermediate model keeps every CRM's branch (all refs, all SQL compiled on every build) and
    filters the branches with `crm_is(...)`, which the warehouse folds away. -#}

{% macro active_crm() -%}
    {%- set chosen = (var('crm', 'auto') or 'auto') | string | trim | lower -%}
    {%- set known = ['auto', 'bitrix24', 'amocrm', 'export'] -%}
    {%- if chosen not in known -%}
        {{ exceptions.raise_compiler_error("var crm = '" ~ chosen ~ "': expected one of " ~ known | join(', ')) }}
    {%- endif -%}
    {%- if chosen != 'auto' -%}
        {{ return(chosen) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('bitrix24') }}
    {%- endif -%}
    {%- for crm, schema, table in [('bitrix24', 'raw_bitrix24', 'deals'),
                                   ('amocrm', 'raw_amocrm', 'leads'),
                                   ('export', 'raw_export', 'deals')] -%}
        {%- set rel = optional_relation(schema, table) -%}
        {%- if rel is not none -%}
            {%- set found = run_query('select 1 as has_rows from ' ~ rel ~ ' limit 1') -%}
            {%- if found is not none and (found.rows | length) > 0 -%}
                {{ return(crm) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {#- nothing loaded yet: Bitrix24's (empty, typed) branch -#}
    {{ return('bitrix24') }}
{%- endmacro %}

{#- A SQL boolean constant: is `crm` the company's CRM? (`where {{ crm_is('amocrm') }}`) -#}
{% macro crm_is(crm) -%}
    {%- if active_crm() == crm -%} (1 = 1) {%- else -%} (1 = 0) {%- endif -%}
{%- endmacro %}

{#- amoCRM's canonical stage id (text): the status id, except 142 / 143 (won / lost), which every
    pipeline shares: '<pipeline_id>:142'. -#}
{% macro amocrm_stage_id(pipeline_expr, status_expr) -%}
    case
        when {{ status_expr }} in (142, 143)
            then cast({{ pipeline_expr }} as varchar) || ':' || cast({{ status_expr }} as varchar)
        else cast({{ status_expr }} as varchar)
    end
{%- endmacro %}

{#- An export's canonical stage id (text): '<pipeline key or 0>:<stage name, else the status>'. -#}
{% macro export_stage_id(pipeline_key_expr, stage_name_expr, status_expr) -%}
    cast(coalesce({{ pipeline_key_expr }}, 0) as varchar) || ':' || coalesce({{ stage_name_expr }}, {{ status_expr }})
{%- endmacro %}

{#- The amoCRM leads that are live deals of the company's CRM: not marked deleted, not in the deleted
    list (one query for deal, lead and stage_history, so the three agree on what is deleted). A lead
    changed after its last deletion was restored (the source then lists it live again). -#}
{% macro amocrm_live_leads() -%}
    select * from {{ ref('stg_amocrm__leads') }} as leads
    where {{ crm_is('amocrm') }}
        and not leads.is_deleted
        and not exists (
            select 1 from {{ ref('stg_amocrm__deleted_leads') }} as deleted
            where deleted.lead_id = leads.lead_id
                and (leads.updated_at is null or deleted.deleted_at >= leads.updated_at)
        )
{%- endmacro %}
