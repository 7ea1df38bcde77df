-- HubSpot companies in the columns of stg_salesforce__accounts (the marts do not care which CRM).
{%- set present = source_column_names('hubspot', 'companies') %}
with

source as (

    select * from {{ source('hubspot', 'companies') }}

),

renamed as (

    select
        {{ hubspot_id('id') }} as account_id,
        {{ hubspot_id(column_or_null(present, 'hubspot_owner_id')) }} as owner_user_id,
        {{ blank_to_null(column_or_null(present, 'name')) }} as account_name,
        {{ blank_to_null(column_or_null(present, 'type')) }} as account_type,
        {{ blank_to_null(column_or_null(present, 'industry')) }} as industry,
        {{ blank_to_null(column_or_null(present, 'country')) }} as billing_country,
        {{ blank_to_null(column_or_null(present, 'website')) }} as website,
        -- domain is HubSpot's company key (the website's host); the website when it is cleared
        {{ website_domain('coalesce(' ~ blank_to_null(column_or_null(present, 'domain')) ~ ', ' ~ blank_to_null(column_or_null(present, 'website')) ~ ')') }} as website_domain,
        {{ blank_to_null(column_or_null(present, 'phone')) }} as phone,
        -- custom company properties a portal may have (like Salesforce Plan__c / Region__c)
        {{ blank_to_null(column_or_null(present, 'plan')) }} as plan,
        {{ blank_to_null(column_or_null(present, 'region')) }} as region,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'createdAt')) ~ ', ' ~ column_or_null(present, 'createdate') ~ ')') }} as created_at,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'updatedAt')) ~ ', ' ~ column_or_null(present, 'hs_lastmodifieddate') ~ ')') }} as last_modified_at,
        -- an archived object (archived: true, from ?archived=true) is a deletion
        coalesce({{ to_boolean(column_or_null(present, 'archived')) }}, false) as is_deleted,
        _loaded_at

    from source

),

-- one row per account_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'account_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a company whose latest version is archived is not live
final as (

    select * from latest where not is_deleted

)

select * from final
