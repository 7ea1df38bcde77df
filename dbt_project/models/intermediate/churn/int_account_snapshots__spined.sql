{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ cx_drop_stale_accounts(ref('int_account_spine_inputs__hashed'), 'snapshot_spine_hash') }}",
) }}
-- One row per account and month end at which the account had an active term, up to the
-- as-of date, with the subscription features known on that day.
-- Incremental by account (docs/decisions.md "Incremental models", the spines): an account's
-- rows depend on its own subscriptions and the data's first month and last month end only, so
-- a run computes the accounts whose fingerprint of those (input_hash) is new.
with

accounts_to_compute as (

    {{ cx_accounts_to_compute(ref('int_account_spine_inputs__hashed'), 'snapshot_spine_hash') }}

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

digits as (

    select 0 as digit union all select 1 union all select 2 union all select 3
    union all select 4 union all select 5 union all select 6 union all select 7
    union all select 8 union all select 9

),

month_offsets as (

    select hundreds.digit * 100 + tens.digit * 10 + ones.digit as month_offset
    from digits as hundreds
    cross join digits as tens
    cross join digits as ones

),

first_month as (

    select {{ dbt.date_trunc('month', 'min(term_start_date)') }} as first_month_start
    from all_subscriptions

),

month_ends as (

    select
        cast({{ dbt.last_day(dbt.dateadd('month', 'month_offsets.month_offset', 'first_month.first_month_start'), 'month') }} as date)
            as snapshot_date

    from month_offsets
    cross join first_month

),

snapshot_dates as (

    select month_ends.snapshot_date
    from month_ends
    cross join as_of
    where month_ends.snapshot_date <= as_of.as_of_date

),

active_terms as (

    select
        subscriptions.account_id,
        snapshot_dates.snapshot_date,
        subscriptions.term_start_date,
        subscriptions.term_end_date,
        subscriptions.arr_amount,
        subscriptions.seats,
        subscriptions.account_first_start_date,
        row_number() over (
            partition by subscriptions.account_id, snapshot_dates.snapshot_date
            order by subscriptions.term_start_date desc, subscriptions.arr_amount desc
        ) as term_rank,
        max(subscriptions.renewal_date) over (
            partition by subscriptions.account_id, snapshot_dates.snapshot_date
        ) as renewal_date

    from subscriptions
    inner join snapshot_dates
        on snapshot_dates.snapshot_date between subscriptions.term_start_date and subscriptions.term_end_date

),

-- ARR 90 days before the snapshot, from the term active then (null when none was).
earlier_terms as (

    select
        active_terms.account_id,
        active_terms.snapshot_date,
        subscriptions.arr_amount,
        row_number() over (
            partition by active_terms.account_id, active_terms.snapshot_date
            order by subscriptions.term_start_date desc, subscriptions.arr_amount desc
        ) as term_rank

    from active_terms
    inner join subscriptions
        on subscriptions.account_id = active_terms.account_id
        and {{ dbt.dateadd('day', -90, 'active_terms.snapshot_date') }}
            between subscriptions.term_start_date and subscriptions.term_end_date
    where active_terms.term_rank = 1

),

final as (

    select
        active_terms.account_id || '-' || cast(active_terms.snapshot_date as {{ dbt.type_string() }})
            as snapshot_id,
        active_terms.account_id,
        active_terms.snapshot_date,
        {{ dbt.dateadd('day', 1, 'active_terms.snapshot_date') }} as feature_cutoff_at,
        {{ dbt.datediff('active_terms.account_first_start_date', 'active_terms.snapshot_date', 'day') }}
            as tenure_days,
        active_terms.arr_amount,
        active_terms.arr_amount - earlier_terms.arr_amount as arr_change_90d,
        active_terms.seats,
        {{ dbt.datediff('active_terms.snapshot_date', 'active_terms.renewal_date', 'day') }}
            as days_to_renewal,
        accounts_to_compute.input_hash

    from active_terms
    inner join accounts_to_compute
        on accounts_to_compute.account_id = active_terms.account_id
    left join earlier_terms
        on earlier_terms.account_id = active_terms.account_id
        and earlier_terms.snapshot_date = active_terms.snapshot_date
        and earlier_terms.term_rank = 1
    where active_terms.term_rank = 1

)

select * from final
