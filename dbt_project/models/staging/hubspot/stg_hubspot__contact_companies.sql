-- Each HubSpot contact's company from the v4 association answers `cxloop pull` lands (the search
-- answers it pulls contacts with carry no associations; docs/connectors.md, HubSpot): the newest
-- answer per contact, its primary company (type 1), else the first listed.
-- stg_hubspot__contacts reads it.
with

source as (

    select * from {{ source('hubspot', 'contact_companies') }}

),

final as (

    {{ hubspot_pulled_company('source', 1, 'contact_id') }}

)

select * from final
