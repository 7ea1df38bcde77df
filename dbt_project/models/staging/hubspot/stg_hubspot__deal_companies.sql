-- Each HubSpot deal's company from the v4 association answers `cxloop pull` lands (the search
-- answers it pulls deals with carry no associations; docs/connectors.md, HubSpot): the newest
-- answer per deal, its primary company (type 5), else the first listed.
-- stg_hubspot__deals reads it.
with

source as (

    select * from {{ source('hubspot', 'deal_companies') }}

),

final as (

    {{ hubspot_pulled_company('source', 5, 'opportunity_id') }}

)

select * from final
