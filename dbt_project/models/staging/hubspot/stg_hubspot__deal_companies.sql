-- Each HubSpot deal's company from the v4 association answers `cxloop pull` lands (the search
-- answers it pulls deals with carry no associations; docs/connectors.md, HubSpot). An answer is
-- an observation: the newest about a deal replaces the older ones. Its primary company (the
-- HUBSPOT_DEFINED association type 5, "Primary"), else the first listed; a deal whose newest
-- answer lists none (NO_ASSOCIATIONS_FOUND) has no row. stg_hubspot__deals reads it.
with

source as (

    select * from {{ source('hubspot', 'deal_companies') }}

),

answers as (

    {{ cx_latest_version('source', 'from_id', 'completed_at desc nulls last, _loaded_at desc, _source_file desc, _row_number desc') }}

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
    where {{ cx_json_get_text('association_type', 'typeId') }} = '5'
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

),

final as (

    select
        {{ hubspot_id('from_id') }} as opportunity_id,
        {{ hubspot_id('company_id') }} as account_id
    from ranked
    where company_rank = 1

)

select * from final
