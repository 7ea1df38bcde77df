-- Each customer account's value (docs/metrics.md "Customer lifetime value"): ARR now, revenue
-- to date, and the expected remaining revenue over the CLV horizon under the churn model's
-- survival, discounted. One row per account that ever had a subscription term.
-- Periods: clv_horizon_periods periods of clv_period_days; the discount factor of period k is
-- (1 + clv_annual_discount_rate) ^ -(k * clv_period_days / 365), computed here as a literal.
{%- set period_days = var('clv_period_days') %}
{%- set periods = var('clv_horizon_periods') %}
{%- set rate = var('clv_annual_discount_rate') %}
with

subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

churn_scores as (

    select * from {{ ref('int_churn_scores__ranked') }}

),

periods as (

    {% for k in range(1, periods + 1) %}
    select
        {{ k }} as period_number,
        cast({{ (1 + rate) ** (-(k * period_days) / 365.0) }} as {{ dbt.type_float() }}) as discount_factor
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

-- A term earns its ARR from its start until the next-started term replaces it, its own end,
-- or the as-of date, whichever comes first (the latest-started term is the one in force).
terms as (

    select
        subscriptions.account_id,
        subscriptions.term_start_date,
        subscriptions.term_end_date,
        subscriptions.arr_amount,
        subscriptions.seats,
        subscriptions.is_active_at_as_of,
        lead(subscriptions.term_start_date) over (
            partition by subscriptions.account_id
            order by subscriptions.term_start_date, subscriptions.arr_amount, subscriptions.subscription_id
        ) as next_term_start_date,
        as_of.as_of_date

    from subscriptions
    cross join as_of

),

earned as (

    select
        account_id,
        arr_amount,
        {{ dbt.datediff(
            'term_start_date',
            'least(term_end_date, coalesce(' ~ dbt.dateadd('day', -1, 'next_term_start_date') ~ ', term_end_date), as_of_date)',
            'day'
        ) }} + 1 as earning_days

    from terms
    where term_start_date <= as_of_date

),

historical as (

    select
        account_id,
        sum(case when earning_days > 0 then arr_amount * earning_days / 365.0 else 0 end) as clv_historical_amount

    from earned
    group by account_id

),

current_terms as (

    select
        account_id,
        arr_amount,
        seats,
        row_number() over (
            partition by account_id order by term_start_date desc, arr_amount desc
        ) as term_rank

    from terms
    where is_active_at_as_of

),

accounts as (

    select
        account_ids.account_id,
        coalesce(current_terms.arr_amount, 0) as arr_amount,
        coalesce(current_terms.seats, 0) as seats,
        coalesce(historical.clv_historical_amount, 0) as clv_historical_amount,
        churn_scores.churn_probability,
        -- survival over one period: the model's horizon survival scaled by constant hazard
        case
            when churn_scores.churn_probability is not null
                then power(
                    cast(1 - churn_scores.churn_probability as {{ dbt.type_float() }}),
                    cast({{ period_days }} as {{ dbt.type_float() }}) / {{ var('churn_horizon_days') }}
                )
        end as period_survival

    from (select distinct account_id from subscriptions) as account_ids
    left join current_terms
        on current_terms.account_id = account_ids.account_id
        and current_terms.term_rank = 1
    left join historical
        on historical.account_id = account_ids.account_id
    left join churn_scores
        on churn_scores.account_id = account_ids.account_id

),

projected as (

    select
        accounts.account_id,
        sum(
            accounts.arr_amount * {{ period_days }} / 365.0 * periods.discount_factor
        ) as clv_if_retained_amount,
        sum(
            accounts.arr_amount * {{ period_days }} / 365.0
            * power(accounts.period_survival, periods.period_number) * periods.discount_factor
        ) as clv_predicted_amount

    from accounts
    cross join periods
    group by accounts.account_id

),

final as (

    select
        accounts.account_id,
        accounts.arr_amount,
        accounts.seats,
        {{ cx_round('accounts.clv_historical_amount', 2) }} as clv_historical_amount,
        accounts.churn_probability,
        accounts.period_survival,
        {{ cx_round('projected.clv_if_retained_amount', 2) }} as clv_if_retained_amount,
        case
            when accounts.arr_amount = 0 then 0
            else {{ cx_round('projected.clv_predicted_amount', 2) }}
        end as clv_predicted_amount,
        case
            when accounts.arr_amount = 0 then 0
            -- the difference of the rounded amounts: at risk + predicted = if retained, to the cent
            else {{ cx_round(cx_round('projected.clv_if_retained_amount', 2) ~ ' - ' ~ cx_round('projected.clv_predicted_amount', 2), 2) }}
        end as clv_at_risk_amount

    from accounts
    inner join projected
        on projected.account_id = accounts.account_id

)

select * from final
