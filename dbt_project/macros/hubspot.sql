{#- HubSpot CRM v3 helpers for staging. -#}

{#- Our id for a HubSpot object id (a numeric string): `hubspot:<id>`, so that it can never
    equal a Salesforce id when the CRMs are unioned; null stays null, "" becomes null. -#}
{% macro hubspot_id(column) -%}
    'hubspot:' || {{ blank_to_null(column) }}
{%- endmacro %}

{#- A select of `key` and `company_id` (HubSpot's id, unprefixed): each object's company from
    its v3 `associations` JSON text (`{"companies": {"results": [{"id", "type"}]}}`). The
    primary association (type `<object_name>_to_company`, e.g. deal_to_company) comes first,
    else the first listed; objects without a company association give no row. -#}
{% macro hubspot_associated_company(relation, key, associations_column, object_name) -%}
    with companies_json as (

        select
            {{ key }},
            {{ json_text(associations_column, '$.companies.results') }} as companies_json
        from {{ relation }}

    ),

    associated as (

        {{ cx_unnest_json_array('companies_json', 'companies_json', [key], 'company_index', 'company') }}

    ),

    ranked as (

        select
            {{ key }},
            {{ blank_to_null(cx_json_get_text('company', 'id')) }} as company_id,
            row_number() over (
                partition by {{ key }}
                order by
                    case when {{ cx_json_get_text('company', 'type') }} = '{{ object_name }}_to_company' then 0 else 1 end,
                    company_index
            ) as company_rank
        from associated

    )

    select {{ key }}, company_id from ranked where company_rank = 1 and company_id is not null
{%- endmacro %}
