-- Logo churn and revenue retention by month, for the whole book (cohort 'all') and per
-- cohort (the month of an account's first subscription, 'YYYY-MM'). The base of a month is the
-- accounts active on its first day; retention compares their ARR on the next month's first day.
with

account_months as (

    select * from {{ ref('int_account_months__spined') }}

),

by_cohort as (

    select
        month_start_date,
        'all' as cohort,
        is_complete_month,
        is_active_at_start,
        is_churned_in_month,
        arr_at_start,
        arr_at_next_start
    from account_months
    union all
    select
        month_start_date,
        {{ dbt.concat(["cast(extract(year from cohort_month) as " ~ dbt.type_string() ~ ")",
            "'-'",
            "lpad(cast(extract(month from cohort_month) as " ~ dbt.type_string() ~ "), 2, '0')"]) }},
        is_complete_month,
        is_active_at_start,
        is_churned_in_month,
        arr_at_start,
        arr_at_next_start
    from account_months

),

counted as (

    select
        month_start_date,
        cohort,
        bool_and(is_complete_month) as is_complete_month,
        count(case when is_active_at_start then 1 end) as accounts_at_start,
        count(case when is_active_at_start and is_churned_in_month then 1 end) as churned_accounts,
        sum(case when is_active_at_start then arr_at_start else 0 end) as arr_at_start_amount,
        sum(case when is_active_at_start then arr_at_next_start else 0 end) as arr_at_end_amount,
        sum(case when is_active_at_start then least(arr_at_next_start, arr_at_start) else 0 end)
            as arr_retained_gross_amount,
        sum(case when is_active_at_start and is_churned_in_month then arr_at_start else 0 end)
            as arr_churned_amount

    from by_cohort
    group by month_start_date, cohort

),

final as (

    select
        month_start_date,
        cohort,
        is_complete_month,
        accounts_at_start,
        churned_accounts,
        {{ cx_round(percent_of('churned_accounts', 'accounts_at_start'), 2) }} as logo_churn_rate,
        {{ cx_round('arr_at_start_amount', 2) }} as arr_at_start_amount,
        {{ cx_round('arr_at_end_amount', 2) }} as arr_at_end_amount,
        {{ cx_round('arr_churned_amount', 2) }} as arr_churned_amount,
        {{ cx_round(percent_of('arr_retained_gross_amount', 'arr_at_start_amount'), 2) }}
            as gross_revenue_retention,
        {{ cx_round(percent_of('arr_at_end_amount', 'arr_at_start_amount'), 2) }}
            as net_revenue_retention

    from counted

)

select * from final
