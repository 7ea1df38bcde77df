{#- Optional source fields. Exports differ by company: Qualtrics leaves metadata columns out of
    anonymous surveys, Salesforce custom fields (Plan__c ...) may not exist, a Zendesk key absent
    from every record never becomes a column. Staging reads such a field through
    column_or_null(), which yields a typed null when the raw table lacks the column. -#}

{#- The lower-cased column names of a declared source table, looked up in the warehouse (not via
    source(), which a unit test replaces with its fixture); none while parsing. -#}
{% macro source_column_names(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Our sources live in schema raw as <source>__<table>; a unit test's context has no graph. -#}
    {%- set location = {'database': target.database, 'schema': 'raw',
                        'identifier': source_name ~ '__' ~ table_name} -%}
    {%- for node in (graph.get('sources') or {}).values()
            if node.source_name == source_name and node.name == table_name -%}
        {%- do location.update({'database': node.database, 'schema': node.schema,
                                'identifier': node.identifier}) -%}
    {%- endfor -%}
    {%- set relation = adapter.get_relation(**location) -%}
    {%- set names = [] -%}
    {%- if relation is not none -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names if names else none) }}
{%- endmacro %}

{% macro column_or_null(present_columns, column_name) -%}
    {%- if present_columns is none or (column_name | lower) in present_columns -%}
        {{ adapter.quote(column_name) }}
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
