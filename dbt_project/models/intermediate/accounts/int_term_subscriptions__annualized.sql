-- Churn method term_fields: one subscription term per Closed Won opportunity with
-- Subscription_Start_Date__c and Subscription_End_Date__c (or the fields mapped to them).
-- ARR = Amount per 12 months of term; the account churned when its last term ended on or
-- before the as-of date (churned_date = that end date).
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

final as (

    select
        terms.subscription_id,
        terms.account_id,
        terms.product,
        terms.term_start_date,
        terms.term_end_date,
        terms.term_end_date as renewal_date,
        terms.amount,
        terms.amount * 12.0 / greatest(round(terms.term_days / 30.4375), 1) as arr_amount,
        terms.seats,
        case
            when max(terms.term_end_date) over (partition by terms.account_id) <= as_of.as_of_date
                then max(terms.term_end_date) over (partition by terms.account_id)
        end as account_churned_date,
        false as is_renewal_overdue

    from terms
    cross join as_of

)

select * from final
