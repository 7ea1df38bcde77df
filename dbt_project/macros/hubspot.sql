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

{#- A select of `<object_key>` (`hubspot:<id>`) and `account_id` from the v4 association
    answers `cxloop pull` lands (raw hubspot__<deal|contact>_companies: from_id, `to` as JSON
    text, completed_at). An answer is an observation: the newest about an object replaces the
    older ones. Its primary company (HUBSPOT_DEFINED type `primary_type_id`: 5 for deals, 1 for
    contacts), else the first listed; an object whose newest answer lists none has no row. -#}
{% macro hubspot_pulled_company(source_relation, primary_type_id, object_key) -%}
    with

    answers as (

        {{ cx_latest_version(source_relation, 'from_id', 'completed_at desc nulls last, _loaded_at desc, _source_file desc, _row_number desc') }}

    ),

    listed as (

        {{ cx_unnest_json_array('answers', adapter.quote('to'), ['from_id'], 'company_index', 'company') }}

    ),

    companies as (

        select
            from_id,
            company_index,
            {{ blank_to_null(cx_json_get_text('company', 'toObjectId')) }} as company_id,
            {{ cx_json_get_text('company', 'associationTypes') }} as types_json
        from listed

    ),

    association_types as (

        {{ cx_unnest_json_array('companies', 'types_json', ['from_id', 'company_index'], 'type_index', 'association_type') }}

    ),

    primary_companies as (

        select distinct
            from_id,
            company_index
        from association_types
        where {{ cx_json_get_text('association_type', 'typeId') }} = '{{ primary_type_id }}'
            and {{ cx_json_get_text('association_type', 'category') }} = 'HUBSPOT_DEFINED'

    ),

    ranked as (

        select
            companies.from_id,
            companies.company_id,
            row_number() over (
                partition by companies.from_id
                order by
                    case when primary_companies.from_id is null then 1 else 0 end,
                    companies.company_index
            ) as company_rank
        from companies
        left join primary_companies
            on companies.from_id = primary_companies.from_id
            and companies.company_index = primary_companies.company_index
        where companies.company_id is not null

    )

    select
        {{ hubspot_id('from_id') }} as {{ object_key }},
        {{ hubspot_id('company_id') }} as account_id
    from ranked
    where company_rank = 1
{%- endmacro %}
