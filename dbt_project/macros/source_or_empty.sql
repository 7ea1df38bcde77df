{#- A source table that cxloop's Python writes (identity clusters, churn scores, the playbook
    ledger), or no rows of the given typed columns when it does not exist yet. flows/build.py
    creates these tables before every build; this keeps the models readable when dbt runs
    without it (a `dbt run` while developing on a fresh warehouse). -#}
{% macro source_or_empty(source_name, table_name, columns) -%}
    {%- set table = source(source_name, table_name) -%}
    {%- set relation = adapter.get_relation(
            database=table.database, schema=table.schema, identifier=table.identifier
        ) if execute else table -%}
    {%- if relation is not none -%}
    select * from {{ table }}
    {%- else -%}
    select
        {%- for name, data_type in columns.items() %}
        cast(null as {{ cx_type(data_type) }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif -%}
{%- endmacro %}
