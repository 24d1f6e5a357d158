{#- The listed columns together identify a row (no packages: dbt_utils is not reachable offline). -#}
{% test unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
