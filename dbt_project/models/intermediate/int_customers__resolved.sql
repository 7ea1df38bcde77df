-- One row per person record (Salesforce contact, Zendesk end-user, Qualtrics response) with
-- its customer_id. Deterministic rules only: explicit ids first, then normalized e-mail.
-- customer_id = 'cus_' || left(md5(anchor), 16), anchor = the linked Salesforce Contact Id,
-- else the normalized e-mail, else source || ':' || record id (stable across runs).
with

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }} where not is_agent

),

responses as (

    select * from {{ ref('stg_qualtrics__responses') }} where not is_test_or_spam

),

accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

-- Salesforce Ids compare on their case-sensitive 15-character form (18 = 15 + checksum).
contact_ids as (

    select contact_id, left(contact_id, 15) as contact_id_15, account_id from contacts

),

contact_by_email as (

    select email_normalized, min(contact_id) as contact_id
    from contacts
    where email_normalized is not null
    group by email_normalized

),

organization_accounts as (

    select zendesk_organization_id, account_id
    from accounts
    where zendesk_organization_id is not null

),

salesforce_records as (

    select
        'salesforce' as source,
        contact_id as source_record_id,
        contact_id as linked_contact_id,
        email_normalized,
        account_id as record_account_id,
        'salesforce_contact' as linked_rule

    from contacts

),

zendesk_records as (

    select
        'zendesk' as source,
        cast(zendesk_users.user_id as varchar) as source_record_id,
        coalesce(by_id.contact_id, by_email.contact_id) as linked_contact_id,
        zendesk_users.email_normalized,
        organization_accounts.account_id as record_account_id,
        case
            when by_id.contact_id is not null then 'external_id'
            when by_email.contact_id is not null then 'email'
        end as linked_rule

    from zendesk_users
    left join contact_ids as by_id
        on by_id.contact_id_15 = left(zendesk_users.external_id, 15)
        and length(zendesk_users.external_id) in (15, 18)
    left join contact_by_email as by_email
        on by_email.email_normalized = zendesk_users.email_normalized
    left join organization_accounts
        on organization_accounts.zendesk_organization_id = zendesk_users.organization_id

),

qualtrics_records as (

    select
        'qualtrics' as source,
        responses.response_id as source_record_id,
        coalesce(by_id.contact_id, by_email.contact_id) as linked_contact_id,
        responses.email_normalized,
        stated_account.account_id as record_account_id,
        case
            when by_id.contact_id is not null then 'external_id'
            when by_email.contact_id is not null then 'email'
        end as linked_rule

    from responses
    left join contact_ids as by_id
        on by_id.contact_id_15 = left(responses.salesforce_contact_id, 15)
        and length(responses.salesforce_contact_id) in (15, 18)
    left join contact_by_email as by_email
        on by_email.email_normalized = responses.email_normalized
    left join accounts as stated_account
        on stated_account.account_id = responses.salesforce_account_id

),

person_records as (

    select * from salesforce_records
    union all
    select * from zendesk_records
    union all
    select * from qualtrics_records

),

anchored as (

    select
        person_records.source,
        person_records.source_record_id,
        person_records.linked_contact_id,
        person_records.email_normalized,
        coalesce(
            person_records.linked_contact_id,
            person_records.email_normalized,
            person_records.source || ':' || person_records.source_record_id
        ) as identity_anchor,
        coalesce(
            person_records.linked_rule,
            case when person_records.email_normalized is not null then 'email_anchor' end,
            'source_record'
        ) as match_rule,
        coalesce(contact_ids.account_id, person_records.record_account_id) as record_account_id

    from person_records
    left join contact_ids
        on contact_ids.contact_id = person_records.linked_contact_id

),

-- Records linked only by e-mail take the account any other record of that person gives.
email_accounts as (

    select email_normalized, min(record_account_id) as account_id
    from anchored
    where email_normalized is not null and record_account_id is not null
    group by email_normalized

),

final as (

    select
        anchored.source,
        anchored.source_record_id,
        'cus_' || left({{ dbt.hash('anchored.identity_anchor') }}, 16) as customer_id,
        coalesce(anchored.record_account_id, email_accounts.account_id) as account_id,
        anchored.match_rule,
        anchored.linked_contact_id as salesforce_contact_id,
        anchored.email_normalized,
        anchored.identity_anchor

    from anchored
    left join email_accounts
        on email_accounts.email_normalized = anchored.email_normalized

)

select * from final
