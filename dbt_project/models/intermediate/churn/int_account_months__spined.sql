{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ cx_drop_stale_accounts(ref('int_account_spine_inputs__hashed'), 'month_spine_hash') }}",
) }}
-- One row per account and calendar month from the account's first subscription month to the
-- as-of month: whether it was active on the month's first day, its ARR then and on the next
-- month's first day (the latest-started term active that day; 0 when none), and whether it
-- churned in the month (its churned_date falls in it). Input of mart_churn and churn_rate.
-- Incremental by account (docs/decisions.md "Incremental models", the spines): an account's
-- rows depend on its own subscriptions, the data's first month and the as-of month only, so a
-- run computes the accounts whose fingerprint of those (input_hash) is new.
with

accounts_to_compute as (

    {{ cx_accounts_to_compute(ref('int_account_spine_inputs__hashed'), 'month_spine_hash') }}

),

all_subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

subscriptions as (

    select * from all_subscriptions
    where account_id in (select account_id from accounts_to_compute)

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

accounts as (

    select
        account_id,
        min(account_first_start_date) as first_start_date,
        max(account_churned_date) as churned_date

    from subscriptions
    group by account_id

),

months as (

    select cast(month_start as date) as month_start_date
    from (
        select
            {{ dbt.date_trunc('month', 'min(first_start_date)') }} as first_month,
            max(as_of.as_of_date) as last_day
        from accounts
        cross join as_of
    ) as bounds,
    {{ cx_series('bounds.first_month', 'bounds.last_day', 'month') }} as spine(month_start)

),

account_months as (

    select
        accounts.account_id,
        cast({{ dbt.date_trunc('month', 'accounts.first_start_date') }} as date) as cohort_month,
        months.month_start_date,
        cast({{ dbt.dateadd('month', 1, 'months.month_start_date') }} as date) as next_month_start_date,
        accounts.churned_date

    from accounts
    inner join months
        on months.month_start_date >= cast({{ dbt.date_trunc('month', 'accounts.first_start_date') }} as date)

),

arr_on_day as (

    select
        account_months.account_id,
        account_months.month_start_date,
        subscriptions.term_start_date <= account_months.month_start_date
            and subscriptions.term_end_date >= account_months.month_start_date as is_active_at_start,
        subscriptions.term_start_date <= account_months.next_month_start_date
            and subscriptions.term_end_date >= account_months.next_month_start_date as is_active_at_next_start,
        subscriptions.term_start_date,
        subscriptions.arr_amount

    from account_months
    inner join subscriptions
        on subscriptions.account_id = account_months.account_id
        and subscriptions.term_start_date <= account_months.next_month_start_date
        and subscriptions.term_end_date >= account_months.month_start_date

),

arr_by_month as (

    select
        account_id,
        month_start_date,
        max(case when is_active_at_start then term_start_date end) as start_term_started,
        max(case when is_active_at_next_start then term_start_date end) as next_term_started

    from arr_on_day
    group by account_id, month_start_date

),

arr_values as (

    select
        arr_by_month.account_id,
        arr_by_month.month_start_date,
        max(case when arr_on_day.is_active_at_start
            and arr_on_day.term_start_date = arr_by_month.start_term_started
            then arr_on_day.arr_amount end) as arr_at_start,
        max(case when arr_on_day.is_active_at_next_start
            and arr_on_day.term_start_date = arr_by_month.next_term_started
            then arr_on_day.arr_amount end) as arr_at_next_start,
        max(arr_by_month.start_term_started) is not null as has_term_at_start

    from arr_by_month
    inner join arr_on_day
        on arr_on_day.account_id = arr_by_month.account_id
        and arr_on_day.month_start_date = arr_by_month.month_start_date
    group by arr_by_month.account_id, arr_by_month.month_start_date

),

final as (

    select
        account_months.account_id || '|' || cast(account_months.month_start_date as {{ dbt.type_string() }})
            as account_month_id,
        account_months.account_id,
        account_months.cohort_month,
        account_months.month_start_date,
        account_months.next_month_start_date,
        account_months.next_month_start_date <= as_of.as_of_date + 1 as is_complete_month,
        coalesce(arr_values.has_term_at_start, false) as is_active_at_start,
        coalesce(arr_values.arr_at_start, 0) as arr_at_start,
        coalesce(arr_values.arr_at_next_start, 0) as arr_at_next_start,
        coalesce(
            account_months.churned_date >= account_months.month_start_date
            and account_months.churned_date < account_months.next_month_start_date,
            false
        ) as is_churned_in_month,
        accounts_to_compute.input_hash

    from account_months
    cross join as_of
    inner join accounts_to_compute
        on accounts_to_compute.account_id = account_months.account_id
    left join arr_values
        on arr_values.account_id = account_months.account_id
        and arr_values.month_start_date = account_months.month_start_date

)

select * from final
