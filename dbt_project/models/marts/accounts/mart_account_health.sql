-- A transparent, rule-based health score per account at the as-of date: four components on
-- 0-100 (support, voice of the customer, revenue trend, engagement), weighted by cxloop.yaml
-- `health.weights`; a component with no data is left out and the weights of the others
-- re-normalized. The churn model's latest probability sits beside it (null until scored).
{%- set weights = var('health_weights') %}
{%- set bands = var('health_bands') %}
{%- set since_90d = dbt.dateadd('day', -90, 'as_of.as_of_at') %}
{%- set since_365d = dbt.dateadd('day', -365, 'as_of.as_of_at') %}
with

accounts as (

    select * from {{ ref('dim_accounts') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

ticket_metrics as (

    select * from {{ ref('int_tickets__measured') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

churn_scores as (

    select * from {{ ref('int_churn_scores__ranked') }}

),

support as (

    select
        tickets.account_id,
        count(case when tickets.is_open then 1 end) as open_tickets,
        count(case when tickets.created_at >= {{ since_90d }} then 1 end)
            as tickets_90d,
        count(case when tickets.created_at >= {{ since_90d }}
            and tickets.satisfaction_score = 'bad' then 1 end) as bad_ratings_90d,
        count(case when tickets.created_at >= {{ since_90d }}
            and tickets.count_reopens > 0 then 1 end) as reopened_tickets_90d,
        count(case when tickets.created_at >= {{ since_90d }}
            and ticket_metrics.is_sla_breached then 1 end) as sla_breaches_90d,
        max(tickets.created_at) as last_ticket_at

    from tickets
    cross join as_of
    left join ticket_metrics
        on ticket_metrics.ticket_id = tickets.ticket_id
    where tickets.account_id is not null
    group by tickets.account_id

),

voice as (

    select
        responses.account_id,
        count(case when responses.responded_at >= {{ since_365d }}
            then responses.nps_category end) as nps_responses_365d,
        {{ nps(
            "count(case when responses.responded_at >= " ~ since_365d ~ " and responses.nps_category = 'promoter' then 1 end)",
            "count(case when responses.responded_at >= " ~ since_365d ~ " and responses.nps_category = 'detractor' then 1 end)",
            "count(case when responses.responded_at >= " ~ since_365d ~ " then responses.nps_category end)",
        ) }} as nps_365d,
        max(responses.responded_at) as last_response_at

    from responses
    cross join as_of
    where responses.account_id is not null
    group by responses.account_id

),

revenue as (

    select
        accounts.account_id,
        max(case when subscriptions.term_start_date <= as_of.as_of_date - 90
            and subscriptions.term_end_date >= as_of.as_of_date - 90
            then subscriptions.arr_amount end) as arr_90d_ago_amount

    from accounts
    cross join as_of
    left join subscriptions
        on subscriptions.account_id = accounts.account_id
    group by accounts.account_id

),

inputs as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.csm_user_id,
        accounts.is_churned,
        as_of.as_of_date,
        coalesce(support.open_tickets, 0) as open_tickets,
        coalesce(support.tickets_90d, 0) as tickets_90d,
        coalesce(support.bad_ratings_90d, 0) as bad_ratings_90d,
        coalesce(support.reopened_tickets_90d, 0) as reopened_tickets_90d,
        coalesce(support.sla_breaches_90d, 0) as sla_breaches_90d,
        coalesce(voice.nps_responses_365d, 0) as nps_responses_365d,
        voice.nps_365d,
        coalesce(accounts.arr_amount, 0) as arr_amount,
        revenue.arr_90d_ago_amount,
        {{ dbt.datediff(
            'greatest(support.last_ticket_at, voice.last_response_at)', 'as_of.as_of_at', 'day'
        ) }} as days_since_last_touch

    from accounts
    cross join as_of
    left join support on support.account_id = accounts.account_id
    left join voice on voice.account_id = accounts.account_id
    left join revenue on revenue.account_id = accounts.account_id

),

components as (

    select
        inputs.*,
        greatest(0, 100
            - 10 * open_tickets
            - 15 * bad_ratings_90d
            - 5 * reopened_tickets_90d
            - 5 * sla_breaches_90d
        ) as support_score,
        case when nps_responses_365d > 0 then (nps_365d + 100) / 2.0 end as voice_score,
        case
            when arr_amount <= 0 then 0
            when coalesce(arr_90d_ago_amount, 0) <= 0 then 50
            else least(100, greatest(0, 50 + 100 * (arr_amount / arr_90d_ago_amount - 1)))
        end as revenue_score,
        case
            when days_since_last_touch is null then 0
            else least(100, greatest(0, 100 * (180 - days_since_last_touch) / 150.0))
        end as engagement_score

    from inputs

),

scored as (

    select
        components.*,
        (
            {{ weights.support }} * support_score
            + {{ weights.voice }} * coalesce(voice_score, 0)
            + {{ weights.revenue }} * revenue_score
            + {{ weights.engagement }} * engagement_score
        ) / nullif(
            {{ weights.support }}
            + case when voice_score is not null then {{ weights.voice }} else 0 end
            + {{ weights.revenue }}
            + {{ weights.engagement }},
            0
        ) as health_score_exact

    from components

),

final as (

    select
        scored.account_id,
        scored.account_name,
        scored.csm_user_id,
        scored.as_of_date,
        scored.is_churned,
        {{ cx_round('scored.health_score_exact', 2) }} as health_score,
        case
            when scored.health_score_exact >= {{ bands.healthy }} then 'healthy'
            when scored.health_score_exact >= {{ bands.at_risk }} then 'at_risk'
            else 'critical'
        end as health_band,
        {{ cx_round('scored.support_score', 2) }} as support_score,
        {{ cx_round('scored.voice_score', 2) }} as voice_score,
        {{ cx_round('scored.revenue_score', 2) }} as revenue_score,
        {{ cx_round('scored.engagement_score', 2) }} as engagement_score,
        scored.open_tickets,
        scored.tickets_90d,
        scored.bad_ratings_90d,
        scored.reopened_tickets_90d,
        scored.sla_breaches_90d,
        scored.nps_responses_365d,
        {{ cx_round('scored.nps_365d', 2) }} as nps_365d,
        scored.arr_amount,
        scored.arr_90d_ago_amount,
        scored.days_since_last_touch,
        churn_scores.churn_probability,
        churn_scores.risk_band as churn_risk_band,
        churn_scores.model_version as churn_model_version,
        churn_scores.scored_at as churn_scored_at

    from scored
    left join churn_scores
        on churn_scores.account_id = scored.account_id

)

select * from final
