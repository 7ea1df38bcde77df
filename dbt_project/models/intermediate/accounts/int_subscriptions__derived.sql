-- One row per subscription term: a Closed Won opportunity with start and end dates.
-- ARR = amount per 12 months of term; churn = the account's last term ended on or before
-- the as-of date with no later term (churned_date = that end date).
with

opportunities as (

    select * from {{ ref('int_crm_opportunities__unioned') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

terms as (

    select
        opportunity_id as subscription_id,
        account_id,
        product,
        subscription_start_date as term_start_date,
        subscription_end_date as term_end_date,
        {{ dbt.datediff('subscription_start_date', 'subscription_end_date', 'day') }} + 1 as term_days,
        amount,
        seats

    from opportunities
    where is_won
        and account_id is not null
        and subscription_start_date is not null
        and subscription_end_date is not null
        and subscription_end_date >= subscription_start_date

),

annualized as (

    select
        *,
        amount * 12.0 / greatest(round(term_days / 30.4375), 1) as arr_amount,
        row_number() over (
            partition by account_id order by term_start_date, term_end_date, subscription_id
        ) as term_number,
        max(term_end_date) over (partition by account_id) as account_last_end_date,
        min(term_start_date) over (partition by account_id) as account_first_start_date

    from terms

),

final as (

    select
        annualized.subscription_id,
        annualized.account_id,
        annualized.product,
        annualized.term_number,
        annualized.term_start_date,
        annualized.term_end_date,
        annualized.term_days,
        annualized.amount,
        annualized.arr_amount,
        annualized.seats,
        annualized.account_first_start_date,
        annualized.term_end_date = annualized.account_last_end_date as is_last_term,
        annualized.account_last_end_date <= as_of.as_of_date as is_account_churned,
        case
            when annualized.account_last_end_date <= as_of.as_of_date
                then annualized.account_last_end_date
        end as account_churned_date,
        annualized.term_start_date <= as_of.as_of_date
            and annualized.term_end_date >= as_of.as_of_date as is_active_at_as_of

    from annualized
    cross join as_of

)

select * from final
