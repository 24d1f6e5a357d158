{#- The canonical call takes ONE call source, the most complete one present (models/intermediate/
    call.sql): 'telephony' (the telephony export), else 'voximplant' (Bitrix24 telephony statistics),
    else 'crm' (the CRM's own call records). Shared by the model and its post-hook, so an incremental
    run and the clean-up after it decide the tier the same way. -#}

{#- The tier the current sources give (a SQL expression over the staging models). -#}
{% macro call_source_tier() -%}
    case
        when exists (select 1 from {{ ref('stg_telephony__calls') }} where call_id is not null) then 'telephony'
        when exists (select 1 from {{ ref('stg_bitrix24__calls') }} where call_id is not null) then 'voximplant'
        else 'crm'
    end
{%- endmacro %}

{#- The tier a stored call came from, read off its call_id prefix. -#}
{% macro call_tier_of(call_id_expr) -%}
    case
        when left({{ call_id_expr }}, 10) = 'telephony:' then 'telephony'
        when left({{ call_id_expr }}, 14) = 'bitrix24_call:' then 'voximplant'
        else 'crm'
    end
{%- endmacro %}
