{#- "Every column but these": DuckDB and Snowflake say EXCLUDE, BigQuery and Spark say EXCEPT. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'cxloop')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro bigquery__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}
