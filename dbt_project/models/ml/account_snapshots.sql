-- The churn model's training and scoring rows: one per account and month end with an active
-- term; features as of that day; label = churned within the horizon (null while unknown).
with

snapshots as (

    select * from {{ ref('int_account_snapshots__spined') }}

),

ticket_features as (

    select * from {{ ref('int_snapshot_ticket_features__aggregated') }}

),

survey_features as (

    select * from {{ ref('int_snapshot_survey_features__aggregated') }}

),

-- Not dim_accounts: that mart carries the churn scores, and features never read scores.
accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

churn_dates as (

    select account_id, max(account_churned_date) as churned_date
    from {{ ref('int_subscriptions__derived') }}
    group by account_id

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

final as (

    select
        snapshots.snapshot_id,
        snapshots.account_id,
        snapshots.snapshot_date,
        coalesce(accounts.plan, 'unknown') as plan,
        coalesce(accounts.region, 'unknown') as region,
        coalesce(accounts.industry, 'unknown') as industry,
        snapshots.tenure_days,
        snapshots.arr_amount,
        snapshots.arr_change_90d,
        snapshots.seats,
        snapshots.days_to_renewal,
        ticket_features.tickets_90d,
        ticket_features.tickets_high_priority_90d,
        ticket_features.avg_first_reply_minutes_90d,
        ticket_features.avg_resolution_minutes_90d,
        ticket_features.reopens_90d,
        ticket_features.bad_ratings_180d,
        survey_features.csat_responses_180d,
        survey_features.csat_avg_180d,
        survey_features.last_nps,
        survey_features.nps_change,
        survey_features.survey_responses_365d,
        survey_features.survey_response_rate_365d,
        {{ dbt.datediff(
            'greatest(coalesce(ticket_features.last_ticket_at, survey_features.last_response_at), coalesce(survey_features.last_response_at, ticket_features.last_ticket_at))',
            'snapshots.feature_cutoff_at',
            'day'
        ) }} - 1 as days_since_last_touch,
        case
            when {{ dbt.dateadd('day', var('churn_horizon_days'), 'snapshots.snapshot_date') }}
                > as_of.as_of_date then null
            when churn_dates.churned_date > snapshots.snapshot_date
                and churn_dates.churned_date
                    <= {{ dbt.dateadd('day', var('churn_horizon_days'), 'snapshots.snapshot_date') }}
                then true
            else false
        end as churned_within_horizon

    from snapshots
    cross join as_of
    left join ticket_features
        on ticket_features.snapshot_id = snapshots.snapshot_id
    left join survey_features
        on survey_features.snapshot_id = snapshots.snapshot_id
    left join accounts
        on accounts.account_id = snapshots.account_id
    left join churn_dates
        on churn_dates.account_id = snapshots.account_id

)

select * from final
