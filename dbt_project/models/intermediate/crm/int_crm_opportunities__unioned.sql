-- Every CRM's opportunities in one shape: Salesforce and HubSpot staging share their columns (tested in
-- tests/dbt/test_hubspot_staging.py), HubSpot ids carry the prefix `hubspot:` so they never
-- clash. crm_source says which CRM a row came from.
with

salesforce as (

    select *, 'salesforce' as crm_source from {{ ref('stg_salesforce__opportunities') }}

),

hubspot as (

    select *, 'hubspot' as crm_source from {{ ref('stg_hubspot__deals') }}

),

final as (

    select * from salesforce
    union all
    select * from hubspot

)

select * from final
