{%- set present = source_column_names('salesforce', 'contact') -%}
with

source as (

    select * from {{ source('salesforce', 'contact') }}

),

renamed as (

    select
        {{ blank_to_null('"Id"') }} as contact_id,
        {{ blank_to_null('"AccountId"') }} as account_id,
        {{ blank_to_null(column_or_null(present, 'FirstName')) }} as first_name,
        {{ blank_to_null('"LastName"') }} as last_name,
        {{ blank_to_null(column_or_null(present, 'Email')) }} as email,
        {{ normalize_email(column_or_null(present, 'Email')) }} as email_normalized,
        {{ blank_to_null(column_or_null(present, 'Phone')) }} as phone,
        {{ blank_to_null(column_or_null(present, 'MobilePhone')) }} as mobile_phone,
        {{ phone_e164('coalesce(' ~ blank_to_null(column_or_null(present, 'MobilePhone')) ~ ', ' ~ column_or_null(present, 'Phone') ~ ')') }} as phone_e164,
        {{ blank_to_null(column_or_null(present, 'Title')) }} as title,
        {{ blank_to_null(column_or_null(present, 'MailingCountry')) }} as mailing_country,
        coalesce({{ to_boolean(column_or_null(present, 'HasOptedOutOfEmail')) }}, false) as has_opted_out_of_email,
        {{ blank_to_null(column_or_null(present, 'Preferred_Language__c')) }} as preferred_language_raw,
        {{ normalize_language(column_or_null(present, 'Preferred_Language__c')) }} as preferred_language,
        {{ to_utc_timestamp(column_or_null(present, 'CreatedDate')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'LastModifiedDate')) }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'IsDeleted')) }}, false) as is_deleted,
        _loaded_at

    from source

),

-- one row per contact_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'contact_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a record whose latest version is deleted (IsDeleted in a queryAll export) is not live
final as (

    select * from latest where not is_deleted

)

select * from final
