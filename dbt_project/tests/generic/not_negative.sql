{#- A figure that can never be below zero (amounts, counts, durations); nulls pass. -#}
{% test not_negative(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
