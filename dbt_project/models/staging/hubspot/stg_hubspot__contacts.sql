-- HubSpot contacts in the columns of stg_salesforce__contacts.
{%- set present = source_column_names('hubspot', 'contacts') %}
with

source as (

    select * from {{ source('hubspot', 'contacts') }}

),

-- the contact's company: associatedcompanyid (its primary company) or, without it, the
-- primary association of the page's `associations` (unnesting the same rows, not a join
-- of another source)
associated_company as (

    {{ hubspot_associated_company('source', '_content_hash', column_or_null(present, 'associations'), 'contact') }}

),

-- for a contact without either (the search answers `cxloop pull` lands): the company of the v4
-- association answers
contact_companies as (

    select * from {{ ref('stg_hubspot__contact_companies') }}

),

renamed as (

    select
        {{ hubspot_id('source.id') }} as contact_id,
        coalesce(
            {{ hubspot_id('coalesce(' ~ blank_to_null(column_or_null(present, 'associatedcompanyid')) ~ ', associated_company.company_id)') }},
            contact_companies.account_id
        ) as account_id,
        {{ blank_to_null(column_or_null(present, 'firstname')) }} as first_name,
        {{ blank_to_null(column_or_null(present, 'lastname')) }} as last_name,
        {{ blank_to_null(column_or_null(present, 'email')) }} as email,
        {{ normalize_email(column_or_null(present, 'email')) }} as email_normalized,
        {{ blank_to_null(column_or_null(present, 'phone')) }} as phone,
        {{ blank_to_null(column_or_null(present, 'mobilephone')) }} as mobile_phone,
        {{ phone_e164('coalesce(' ~ blank_to_null(column_or_null(present, 'mobilephone')) ~ ', ' ~ column_or_null(present, 'phone') ~ ')') }} as phone_e164,
        {{ blank_to_null(column_or_null(present, 'jobtitle')) }} as title,
        {{ blank_to_null(column_or_null(present, 'country')) }} as mailing_country,
        coalesce({{ to_boolean(column_or_null(present, 'hs_email_optout')) }}, false) as has_opted_out_of_email,
        {{ blank_to_null(column_or_null(present, 'hs_language')) }} as preferred_language_raw,
        {{ normalize_language(column_or_null(present, 'hs_language')) }} as preferred_language,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'createdAt')) ~ ', ' ~ column_or_null(present, 'createdate') ~ ')') }} as created_at,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'updatedAt')) ~ ', ' ~ column_or_null(present, 'lastmodifieddate') ~ ')') }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'archived')) }}, false) as is_deleted,
        source._loaded_at

    from source
    left join associated_company
        on source._content_hash = associated_company._content_hash
    left join contact_companies
        on {{ hubspot_id('source.id') }} = contact_companies.contact_id

),

-- one row per contact_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'contact_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a contact whose latest version is archived is not live
final as (

    select * from latest where not is_deleted

)

select * from final
