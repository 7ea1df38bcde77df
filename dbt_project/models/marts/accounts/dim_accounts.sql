with

accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

users as (

    select * from {{ ref('int_crm_users__unioned') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

churn_scores as (

    select * from {{ ref('int_churn_scores__ranked') }}

),

-- ARR and seats now (the latest-started term active at the as-of date) and the account's value
account_value as (

    select * from {{ ref('int_account_value__projected') }}

),

subscription_summary as (

    select
        account_id,
        min(term_start_date) as first_subscription_start_date,
        max(term_end_date) as current_subscription_end_date,
        bool_or(is_account_churned) as is_churned,
        max(account_churned_date) as churned_date

    from subscriptions
    group by account_id

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.industry,
        accounts.region,
        accounts.plan,
        accounts.billing_country as country,
        accounts.website_domain as domain,
        accounts.owner_user_id as csm_user_id,
        users.full_name as csm_name,
        users.email as csm_email,
        users.time_zone as csm_time_zone,
        accounts.zendesk_organization_id,
        accounts.match_rule as zendesk_match_rule,
        accounts.created_at,
        subscription_summary.first_subscription_start_date,
        subscription_summary.current_subscription_end_date,
        account_value.arr_amount,
        account_value.seats,
        {{ dbt.datediff(
            'subscription_summary.first_subscription_start_date',
            'coalesce(subscription_summary.churned_date, as_of.as_of_date)',
            'day'
        ) }} as tenure_days,
        coalesce(subscription_summary.is_churned, false) as is_churned,
        subscription_summary.churned_date,
        churn_scores.churn_probability,
        churn_scores.risk_band as churn_risk_band,
        churn_scores.top_drivers as churn_top_drivers,
        churn_scores.previous_probability as churn_previous_probability,
        churn_scores.model_version as churn_model_version,
        churn_scores.scored_at as churn_scored_at,
        account_value.clv_historical_amount,
        account_value.clv_predicted_amount,
        account_value.clv_historical_amount + account_value.clv_predicted_amount as clv_amount,
        account_value.clv_if_retained_amount,
        account_value.clv_at_risk_amount

    from accounts
    cross join as_of
    left join users
        on users.user_id = accounts.owner_user_id
    left join subscription_summary
        on subscription_summary.account_id = accounts.account_id
    left join churn_scores
        on churn_scores.account_id = accounts.account_id
    left join account_value
        on account_value.account_id = accounts.account_id

)

select * from final
