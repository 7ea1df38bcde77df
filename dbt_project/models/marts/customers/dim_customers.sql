-- The customer 360: one row per customer_id.
-- Survivorship (profile fields: e-mail, names, phone, language): the Salesforce contact's
-- value first, then the most recent record's (record_at, then source/record id), each field
-- taking the first non-null valid value in that order.
-- Time zone (time_zone, time_zone_source), the first known of: the Zendesk user's
-- iana_time_zone (the person set it), the CRM contact's country, the account's billing country
-- (country_time_zones seed: countries with one zone or a dominant one), the language of the
-- customer's surveys, then of their CRM/Zendesk profile (language_time_zones seed).
with

identities as (

    select * from {{ ref('int_customers__resolved') }}

),

contacts as (

    select * from {{ ref('int_crm_contacts__unioned') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }} where not is_deleted

),

accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

users as (

    select * from {{ ref('int_crm_users__unioned') }}

),

opportunities as (

    select * from {{ ref('int_crm_opportunities__unioned') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

touchpoints as (

    select * from {{ ref('fct_touchpoints') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

country_zones as (

    select * from {{ ref('country_time_zones') }}

),

language_zones as (

    select * from {{ ref('language_time_zones') }}

),

known_zones as (

    select name as time_zone from {{ cx_time_zone_names() }} as zone_names

),

records as (

    select
        identities.*,
        contacts.phone_e164 as contact_phone_e164,
        contacts.preferred_language as contact_language,
        contacts.has_opted_out_of_email,
        coalesce(contacts.created_at, zendesk_users.created_at, identities.record_at) as first_seen_at,
        zendesk_users.language as zendesk_language,
        zendesk_users.user_name as zendesk_name,
        zendesk_zone.time_zone as zendesk_time_zone,
        contact_country_zone.time_zone as contact_country_time_zone,
        row_number() over (
            partition by identities.customer_id
            order by
                case when identities.source in ('salesforce', 'hubspot') then 0 else 1 end,
                identities.record_at desc nulls last,
                identities.source,
                identities.source_record_id
        ) as survivor_rank

    from identities
    left join contacts
        on identities.source = contacts.crm_source
        and contacts.contact_id = identities.source_record_id
    left join zendesk_users
        on identities.source = 'zendesk'
        and cast(zendesk_users.user_id as varchar) = identities.source_record_id
    left join known_zones as zendesk_zone
        on zendesk_zone.time_zone = zendesk_users.iana_time_zone
    left join country_zones as contact_country_zone
        on contact_country_zone.country_key = {{ cx_country_key('contacts.mailing_country') }}

),

profiles as (

    select
        customer_id,
        min(account_id) as account_id,
        {{ cx_first('email_raw', 'survivor_rank', 'is_email_valid') }} as email_raw,
        {{ cx_first('email_normalized', 'survivor_rank', 'is_email_valid') }} as email_normalized,
        -- names as recorded (native script kept: greetings use them)
        {{ cx_first('first_name', 'survivor_rank', 'first_name is not null') }} as first_name,
        {{ cx_first('last_name', 'survivor_rank', 'last_name is not null') }} as last_name,
        {{ cx_first('zendesk_name', 'survivor_rank', 'zendesk_name is not null') }} as zendesk_name,
        {{ cx_first('coalesce(contact_phone_e164, phone_e164)', 'survivor_rank', 'coalesce(contact_phone_e164, phone_e164) is not null') }} as phone_e164,
        {{ cx_first('coalesce(contact_language, zendesk_language)', 'survivor_rank', 'coalesce(contact_language, zendesk_language) is not null') }} as record_language,
        {{ cx_first('zendesk_time_zone', 'survivor_rank', 'zendesk_time_zone is not null') }} as zendesk_time_zone,
        {{ cx_first('contact_country_time_zone', 'survivor_rank', 'contact_country_time_zone is not null') }} as contact_country_time_zone,
        min(case when source = 'salesforce' then source_record_id end) as salesforce_contact_id,
        min(case when source = 'zendesk' then {{ to_integer('source_record_id') }} end) as zendesk_user_id,
        count(*) as source_records,
        bool_or(coalesce(has_opted_out_of_email, false)) as has_opted_out_of_email,
        min(first_seen_at) as first_seen_at,
        min(case when match_rule = 'splink' then match_probability end) as weakest_match_probability

    from records
    group by customer_id

),

account_revenue as (

    select account_id, sum(amount) as lifetime_revenue_amount
    from opportunities
    where is_won
    group by account_id

),

nps_history as (

    select
        customer_id,
        nps_score,
        responded_at,
        language,
        row_number() over (
            partition by customer_id order by responded_at desc, response_id desc
        ) as response_rank

    from survey_responses
    where customer_id is not null and nps_score is not null

),

survey_summary as (

    select
        customer_id,
        count(*) as survey_responses,
        avg(csat_score) as csat_average,
        count(csat_score) as csat_responses,
        max(case when nps_score is not null then responded_at end) as last_nps_at,
        {{ cx_first('language', 'responded_at desc', 'language is not null') }} as survey_language

    from survey_responses
    where customer_id is not null
    group by customer_id

),

ticket_summary as (

    select
        customer_id,
        count(*) as tickets_total,
        count(case when is_open then 1 end) as tickets_open

    from tickets
    where customer_id is not null
    group by customer_id

),

last_touch as (

    select
        customer_id,
        max(touched_at) as last_touch_at,
        {{ cx_arg_max('touchpoint_type', 'touched_at') }} as last_touch_type,
        {{ cx_arg_max('channel', 'touched_at') }} as last_touch_channel,
        count(*) as touchpoints

    from touchpoints
    where customer_id is not null
        and touchpoint_type <> 'internal_note'  -- the customer never saw it
    group by customer_id

),

churn_scores as (

    select * from {{ ref('int_churn_scores__ranked') }}

),

-- the account's lifetime value (a B2B customer's value is its account's)
account_value as (

    select * from {{ ref('int_account_value__projected') }}

),

final as (

    select
        profiles.customer_id,
        profiles.account_id,
        accounts.account_name,
        coalesce(profiles.email_raw, profiles.email_normalized) as email_as_recorded,
        profiles.email_normalized as email,
        profiles.first_name,
        profiles.last_name,
        coalesce(
            nullif(trim(coalesce(profiles.first_name, '') || ' ' || coalesce(profiles.last_name, '')), ''),
            profiles.zendesk_name
        ) as full_name,
        profiles.phone_e164,
        coalesce(profiles.record_language, survey_summary.survey_language) as language,
        profiles.salesforce_contact_id,
        profiles.zendesk_user_id,
        profiles.source_records,
        profiles.has_opted_out_of_email,
        coalesce(
            profiles.zendesk_time_zone,
            profiles.contact_country_time_zone,
            account_country_zone.time_zone,
            survey_language_zone.time_zone,
            record_language_zone.time_zone
        ) as time_zone,
        case
            when profiles.zendesk_time_zone is not null then 'zendesk_user'
            when profiles.contact_country_time_zone is not null then 'crm_contact_country'
            when account_country_zone.time_zone is not null then 'crm_account_country'
            when survey_language_zone.time_zone is not null then 'survey_language'
            when record_language_zone.time_zone is not null then 'profile_language'
        end as time_zone_source,
        accounts.owner_user_id as csm_user_id,
        users.full_name as csm_name,
        users.email as csm_email,
        accounts.plan,
        accounts.region,
        coalesce(accounts.plan, 'unknown') || ' / ' || coalesce(accounts.region, 'unknown') as segment,
        profiles.first_seen_at,
        {{ dbt.datediff('cast(profiles.first_seen_at as date)', 'as_of.as_of_date', 'day') }} as tenure_days,
        coalesce(account_revenue.lifetime_revenue_amount, 0) as account_lifetime_revenue_amount,
        last_nps.nps_score as last_nps_score,
        survey_summary.last_nps_at,
        previous_nps.nps_score as previous_nps_score,
        last_nps.nps_score - previous_nps.nps_score as nps_change,
        survey_summary.csat_average,
        coalesce(survey_summary.csat_responses, 0) as csat_responses,
        coalesce(survey_summary.survey_responses, 0) as survey_responses,
        coalesce(ticket_summary.tickets_total, 0) as tickets_total,
        coalesce(ticket_summary.tickets_open, 0) as tickets_open,
        last_touch.last_touch_at,
        last_touch.last_touch_type,
        last_touch.last_touch_channel,
        coalesce(last_touch.touchpoints, 0) as touchpoints,
        profiles.weakest_match_probability,
        churn_scores.churn_probability as account_churn_probability,
        churn_scores.risk_band as account_churn_risk_band,
        churn_scores.scored_at as account_churn_scored_at,
        account_value.clv_historical_amount as account_clv_historical_amount,
        account_value.clv_predicted_amount as account_clv_predicted_amount,
        account_value.clv_historical_amount + account_value.clv_predicted_amount as account_clv_amount,
        account_value.clv_at_risk_amount as account_clv_at_risk_amount

    from profiles
    cross join as_of
    left join accounts
        on accounts.account_id = profiles.account_id
    left join users
        on users.user_id = accounts.owner_user_id
    left join account_revenue
        on account_revenue.account_id = profiles.account_id
    left join nps_history as last_nps
        on last_nps.customer_id = profiles.customer_id
        and last_nps.response_rank = 1
    left join nps_history as previous_nps
        on previous_nps.customer_id = profiles.customer_id
        and previous_nps.response_rank = 2
    left join survey_summary
        on survey_summary.customer_id = profiles.customer_id
    left join ticket_summary
        on ticket_summary.customer_id = profiles.customer_id
    left join last_touch
        on last_touch.customer_id = profiles.customer_id
    left join churn_scores
        on churn_scores.account_id = profiles.account_id
    left join country_zones as account_country_zone
        on account_country_zone.country_key = {{ cx_country_key('accounts.billing_country') }}
    left join language_zones as survey_language_zone
        on survey_language_zone.language = survey_summary.survey_language
    left join language_zones as record_language_zone
        on record_language_zone.language = profiles.record_language
    left join account_value
        on account_value.account_id = profiles.account_id

)

select * from final
