-- The customer 360: one row per customer_id, CRM details first, then helpdesk, then survey.
with

identities as (

    select * from {{ ref('int_customers__resolved') }}

),

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

customers as (

    select
        customer_id,
        min(salesforce_contact_id) as salesforce_contact_id,
        min(case when source = 'zendesk' then {{ to_integer('source_record_id') }} end) as zendesk_user_id,
        min(account_id) as any_account_id,
        min(email_normalized) as any_email

    from identities
    group by customer_id

),

survey_history as (

    select
        customer_id,
        count(*) as survey_responses,
        max(case when nps_score is not null then responded_at end) as last_nps_at

    from survey_responses
    where customer_id is not null
    group by customer_id

),

last_nps as (

    select
        customer_id,
        nps_score as last_nps_score,
        language as last_survey_language,
        row_number() over (
            partition by customer_id order by responded_at desc, response_id desc
        ) as response_rank

    from survey_responses
    where customer_id is not null and nps_score is not null

),

ticket_history as (

    select
        customer_id,
        count(*) as tickets_total,
        count(case when is_open then 1 end) as tickets_open

    from tickets
    where customer_id is not null
    group by customer_id

),

final as (

    select
        customers.customer_id,
        coalesce(contacts.account_id, customers.any_account_id) as account_id,
        coalesce(contacts.email, zendesk_users.email, customers.any_email) as email,
        contacts.first_name,
        contacts.last_name,
        coalesce(
            nullif(trim(coalesce(contacts.first_name, '') || ' ' || coalesce(contacts.last_name, '')), ''),
            zendesk_users.user_name
        ) as full_name,
        coalesce(contacts.phone_e164, zendesk_users.phone_e164) as phone_e164,
        coalesce(contacts.preferred_language, last_nps.last_survey_language, zendesk_users.language)
            as language,
        customers.salesforce_contact_id,
        customers.zendesk_user_id,
        coalesce(contacts.has_opted_out_of_email, false) as has_opted_out_of_email,
        last_nps.last_nps_score,
        survey_history.last_nps_at,
        coalesce(survey_history.survey_responses, 0) as survey_responses,
        coalesce(ticket_history.tickets_total, 0) as tickets_total,
        coalesce(ticket_history.tickets_open, 0) as tickets_open

    from customers
    left join contacts
        on contacts.contact_id = customers.salesforce_contact_id
    left join zendesk_users
        on zendesk_users.user_id = customers.zendesk_user_id
    left join survey_history
        on survey_history.customer_id = customers.customer_id
    left join last_nps
        on last_nps.customer_id = customers.customer_id
        and last_nps.response_rank = 1
    left join ticket_history
        on ticket_history.customer_id = customers.customer_id

)

select * from final
