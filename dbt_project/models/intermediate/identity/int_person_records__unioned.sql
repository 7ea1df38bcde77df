-- Identity phase 1: one row per person record (Salesforce contact, Zendesk end-user,
-- survey response from Qualtrics, Typeform or a survey CSV) with the fields identity resolution compares, normalized only where
-- it is safe. Phones (E.164 through `phonenumbers`) and name transliteration are computed in
-- flows/identity.py, which reads this table. See docs/identity.md.
with

contacts as (

    select * from {{ ref('int_crm_contacts__unioned') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }} where not is_agent and not is_deleted

),

responses as (

    select * from {{ ref('int_survey_responses__unioned') }} where is_counted

),

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

-- A website domain names one account only when exactly one account has it.
account_domains as (

    select website_domain as domain, min(account_id) as account_id
    from accounts
    where website_domain is not null
    group by website_domain
    having count(*) = 1

),

salesforce_records as (

    select
        contacts.crm_source as source,
        contacts.contact_id as source_record_id,
        contacts.last_modified_at as record_at,
        contacts.email as email_raw,
        contacts.phone as phone_raw,
        contacts.mobile_phone as mobile_raw,
        contacts.first_name,
        contacts.last_name,
        contacts.contact_id as explicit_contact_id,
        cast(null as bigint) as explicit_zendesk_user_id,
        contacts.account_id as account_hint,
        'crm' as account_hint_rule

    from contacts

),

zendesk_records as (

    select
        'zendesk' as source,
        cast(zendesk_users.user_id as varchar) as source_record_id,
        zendesk_users.updated_at as record_at,
        zendesk_users.email as email_raw,
        zendesk_users.phone as phone_raw,
        cast(null as varchar) as mobile_raw,
        nullif(split_part(trim(zendesk_users.user_name), ' ', 1), '') as first_name,
        nullif(trim(substr(trim(zendesk_users.user_name), length(split_part(trim(zendesk_users.user_name), ' ', 1)) + 1)), '')
            as last_name,
        case
            when length(zendesk_users.external_id) in (15, 18)
                and {{ cx_regexp_matches('zendesk_users.external_id', "'^003[0-9A-Za-z]+$'") }}
                then zendesk_users.external_id
        end as explicit_contact_id,
        zendesk_users.user_id as explicit_zendesk_user_id,
        accounts.account_id as account_hint,
        case when accounts.account_id is not null then 'zendesk_organization' end as account_hint_rule

    from zendesk_users
    left join accounts
        on accounts.zendesk_organization_id = zendesk_users.organization_id

),

-- A CSAT response names its ticket; the ticket names its requester and organization.
-- Every survey source's respondent fields feed the same rules (source: qualtrics, typeform,
-- survey_csv).
survey_records as (

    select
        responses.source,
        responses.response_id as source_record_id,
        responses.responded_at as record_at,
        responses.respondent_email as email_raw,
        responses.respondent_phone as phone_raw,
        cast(null as varchar) as mobile_raw,
        responses.respondent_first_name as first_name,
        responses.respondent_last_name as last_name,
        case
            when length(responses.salesforce_contact_id) in (15, 18)
                then responses.salesforce_contact_id
        end as explicit_contact_id,
        tickets.requester_id as explicit_zendesk_user_id,
        coalesce(stated.account_id, ticket_account.account_id) as account_hint,
        case
            when stated.account_id is not null then 'survey_account'
            when ticket_account.account_id is not null then 'ticket_organization'
        end as account_hint_rule

    from responses
    left join accounts as stated
        on stated.account_id = responses.salesforce_account_id
    left join tickets
        on tickets.ticket_id = responses.ticket_id
    left join accounts as ticket_account
        on ticket_account.zendesk_organization_id = tickets.organization_id

),

person_records as (

    select * from salesforce_records
    union all
    select * from zendesk_records
    union all
    select * from survey_records

),

normalized as (

    select
        *,
        -- lower/trim only; googlemail.com is gmail.com (same mailbox, Google's rule)
        regexp_replace(lower(trim(email_raw)), '@googlemail\.com$', '@gmail.com') as email_lower

    from person_records

),

validated as (

    select
        *,
        coalesce(
            {{ cx_regexp_full_match('email_lower', "'[a-z0-9._%+''-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}'") }},
            false
        ) as is_email_valid

    from normalized

),

final as (

    select
        validated.source,
        validated.source_record_id,
        validated.record_at,
        validated.email_raw,
        case when validated.is_email_valid then validated.email_lower end as email_normalized,
        validated.is_email_valid,
        case when validated.is_email_valid then split_part(validated.email_lower, '@', 2) end
            as email_domain,
        validated.phone_raw,
        validated.mobile_raw,
        hint_account.phone as account_phone,
        validated.first_name,
        validated.last_name,
        nullif(trim(concat_ws(' ', validated.first_name, validated.last_name)), '') as full_name,
        validated.explicit_contact_id,
        validated.explicit_zendesk_user_id,
        coalesce(validated.account_hint, domain_account.account_id) as account_hint,
        coalesce(
            validated.account_hint_rule,
            case when domain_account.account_id is not null then 'email_domain' end
        ) as account_hint_rule

    from validated
    left join account_domains as domain_account
        on domain_account.domain = split_part(validated.email_lower, '@', 2)
        and validated.is_email_valid
    left join {{ ref('int_crm_accounts__unioned') }} as hint_account
        on hint_account.account_id = coalesce(validated.account_hint, domain_account.account_id)

)

select * from final
