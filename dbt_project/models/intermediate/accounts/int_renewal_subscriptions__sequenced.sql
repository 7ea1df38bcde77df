-- Churn method renewal_opportunities (standard objects only; docs/metrics.md). An account
-- becomes a customer with its first Closed Won new-business opportunity. From then on each
-- Closed Won starts a term that runs to the day before the next one: a new-business or renewal
-- win restates the account's ARR as its Amount (an annual value), an add-on win (a Type in
-- neither list, when renewal_types narrows the renewals) adds its Amount. The account churned
-- on the CloseDate of its first Closed Lost renewal after its last Closed Won; an open renewal
-- whose CloseDate has passed is overdue, not churn.
with

opportunities as (

    select * from {{ ref('int_crm_opportunities__unioned') }}
    where account_id is not null and close_date is not null

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

won_history as (

    select
        account_id,
        min(close_date) as first_won_date,
        max(close_date) as last_won_date

    from opportunities
    where is_won
    group by account_id

),

-- A null Type is new business while the account has no earlier Closed Won, a renewal after.
classified as (

    select
        opportunities.*,
        won_history.last_won_date,
        case
            when opportunities.is_new_business is not null then opportunities.is_new_business
            else won_history.first_won_date is null
                or opportunities.close_date <= won_history.first_won_date
        end as counts_as_new_business,
        case
            when opportunities.is_renewal is not null then opportunities.is_renewal
            else won_history.first_won_date is not null
                and opportunities.close_date > won_history.first_won_date
        end as counts_as_renewal

    from opportunities
    left join won_history
        on won_history.account_id = opportunities.account_id

),

customers as (

    select
        account_id,
        min(close_date) as customer_since_date

    from classified
    where is_won and counts_as_new_business
    group by account_id

),

-- Every Closed Won from the first new business on; add-ons sort after a same-day base win.
wins as (

    select
        classified.opportunity_id,
        classified.account_id,
        classified.product,
        classified.close_date,
        classified.amount,
        classified.seats,
        case
            when classified.counts_as_new_business or classified.counts_as_renewal then 0 else 1
        end as is_add_on

    from classified
    inner join customers
        on customers.account_id = classified.account_id
    where classified.is_won
        and classified.close_date >= customers.customer_since_date

),

sequenced as (

    select
        *,
        sum(1 - is_add_on) over (
            partition by account_id
            order by close_date, is_add_on, opportunity_id
            rows between unbounded preceding and current row
        ) as base_number,
        lead(close_date) over (
            partition by account_id order by close_date, is_add_on, opportunity_id
        ) as next_close_date

    from wins

),

valued as (

    select
        *,
        max(case when is_add_on = 0 then amount end) over (
            partition by account_id, base_number
        ) as base_amount,
        sum(case when is_add_on = 1 then coalesce(amount, 0) else 0 end) over (
            partition by account_id, base_number
            order by close_date, is_add_on, opportunity_id
            rows between unbounded preceding and current row
        ) as add_on_amount,
        max(case when is_add_on = 0 then seats end) over (
            partition by account_id, base_number
        ) as base_seats,
        sum(case when is_add_on = 1 then seats end) over (
            partition by account_id, base_number
            order by close_date, is_add_on, opportunity_id
            rows between unbounded preceding and current row
        ) as add_on_seats,
        min(close_date) over (partition by account_id, base_number) as base_start_date

    from sequenced

),

-- Churn: the first Closed Lost renewal after the account's last Closed Won (a win on the same
-- day, such as a downgrade booked instead, keeps the customer).
churns as (

    select
        classified.account_id,
        min(classified.close_date) as churned_date

    from classified
    inner join customers
        on customers.account_id = classified.account_id
    cross join as_of
    where classified.is_closed
        and not classified.is_won
        and classified.counts_as_renewal
        and classified.close_date > classified.last_won_date
        and classified.close_date <= as_of.as_of_date
    group by classified.account_id

),

-- The renewal still open after the last Closed Won: when it is due, and overdue once passed.
pending_renewals as (

    select
        account_id,
        min(close_date) as pending_close_date

    from classified
    where not is_closed
        and counts_as_renewal
        and close_date >= last_won_date
    group by account_id

),

terms as (

    select
        valued.opportunity_id as subscription_id,
        valued.account_id,
        valued.product,
        valued.close_date as term_start_date,
        valued.next_close_date,
        case
            when valued.next_close_date is null and pending_renewals.pending_close_date is not null
                then pending_renewals.pending_close_date
            else cast({{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, 'valued.base_start_date')) }} as date)
        end as renewal_date,
        valued.amount,
        valued.base_amount + valued.add_on_amount as arr_amount,
        case
            when valued.base_seats is not null or valued.add_on_seats is not null
                then coalesce(valued.base_seats, 0) + coalesce(valued.add_on_seats, 0)
        end as seats,
        churns.churned_date as account_churned_date,
        churns.account_id is null
            and pending_renewals.pending_close_date < as_of.as_of_date as is_renewal_overdue,
        as_of.as_of_date

    from valued
    cross join as_of
    left join churns
        on churns.account_id = valued.account_id
    left join pending_renewals
        on pending_renewals.account_id = valued.account_id

),

-- A term ends the day before the next win, on the churn date, or (the current term) not
-- before the as-of date: a customer with no lost renewal is still one.
final as (

    select
        subscription_id,
        account_id,
        product,
        term_start_date,
        term_end_date,
        renewal_date,
        amount,
        arr_amount,
        seats,
        account_churned_date,
        coalesce(is_renewal_overdue, false) as is_renewal_overdue

    from (
        select
            terms.*,
            case
                when next_close_date is not null
                    then cast({{ dbt.dateadd('day', -1, 'next_close_date') }} as date)
                when account_churned_date is not null then account_churned_date
                else greatest(renewal_date, as_of_date)
            end as term_end_date
        from terms
    ) as bounded
    where term_end_date >= term_start_date

)

select * from final
