{%- set present = source_column_names('salesforce', 'account') -%}
with

source as (

    select * from {{ source('salesforce', 'account') }}

),

renamed as (

    select
        {{ blank_to_null('"Id"') }} as account_id,
        {{ blank_to_null(column_or_null(present, 'OwnerId')) }} as owner_user_id,
        {{ blank_to_null('"Name"') }} as account_name,
        {{ blank_to_null(column_or_null(present, 'Type')) }} as account_type,
        {{ blank_to_null(column_or_null(present, 'Industry')) }} as industry,
        {{ blank_to_null(column_or_null(present, 'BillingCountry')) }} as billing_country,
        {{ blank_to_null(column_or_null(present, 'Website')) }} as website,
        {{ website_domain(column_or_null(present, 'Website')) }} as website_domain,
        {{ blank_to_null(column_or_null(present, 'Phone')) }} as phone,
        {{ blank_to_null(column_or_null(present, 'Plan__c')) }} as plan,
        {{ blank_to_null(column_or_null(present, 'Region__c')) }} as region,
        {{ to_utc_timestamp(column_or_null(present, 'CreatedDate')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'LastModifiedDate')) }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'IsDeleted')) }}, false) as is_deleted,
        _loaded_at

    from source

),

-- one row per account_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'account_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a record whose latest version is deleted (IsDeleted in a queryAll export) is not live
final as (

    select * from latest where not is_deleted

)

select * from final
