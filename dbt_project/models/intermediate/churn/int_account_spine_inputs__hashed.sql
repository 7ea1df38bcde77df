{{ config(materialized='view') }}
-- One row per account with subscriptions: the fingerprints of what each account spine reads of
-- it (docs/decisions.md "Incremental models", the spines). Both spines read only the account's
-- own subscription rows and a few values shared by every account (the first month of the data,
-- the as-of month), so an account's rows change only when its fingerprint does. A view: read
-- once by each spine's pre-hook and once by its body, never written.
with

subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

shared as (

    select
        -- int_account_snapshots__spined: month ends from the first term's month to the last
        -- month end on or before the as-of date
        cast(min(subscriptions.term_start_date) as {{ dbt.type_string() }})
            || '/' || cast(max(
                cast({{ dbt.dateadd('day', -1, dbt.date_trunc('month', dbt.dateadd('day', 1, 'as_of.as_of_date'))) }} as date)
            ) as {{ dbt.type_string() }}) as snapshot_spine_shared,
        -- int_account_months__spined: months from the first account's start to the as-of
        -- month, complete up to the last month end on or before the as-of date
        cast(min(subscriptions.account_first_start_date) as {{ dbt.type_string() }})
            || '/' || cast(max(
                cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)
            ) as {{ dbt.type_string() }})
            || '/' || cast(max(
                cast({{ dbt.dateadd('day', -1, dbt.date_trunc('month', dbt.dateadd('day', 1, 'as_of.as_of_date'))) }} as date)
            ) as {{ dbt.type_string() }}) as month_spine_shared

    from subscriptions
    cross join as_of

),

account_rows as (

    select
        account_id,
        {{ cx_hash_sum([
            'term_start_date', 'term_end_date', 'arr_amount', 'seats',
            'account_first_start_date', 'renewal_date', 'account_churned_date',
        ]) }} as subscriptions_hash

    from subscriptions
    where account_id is not null
    group by account_id

),

final as (

    select
        account_rows.account_id,
        cast(account_rows.subscriptions_hash as {{ dbt.type_string() }})
            || '/' || shared.snapshot_spine_shared as snapshot_spine_hash,
        cast(account_rows.subscriptions_hash as {{ dbt.type_string() }})
            || '/' || shared.month_spine_shared as month_spine_hash

    from account_rows
    cross join shared

)

select * from final
