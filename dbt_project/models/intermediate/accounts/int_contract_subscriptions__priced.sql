-- Churn method contract: one subscription term per activated standard Contract (StartDate to
-- EndDate, else StartDate + ContractTerm months); Draft and In Approval contracts never ran.
-- Contract has no amount: the term is priced by the Closed Won opportunity linked to it
-- (Opportunity.ContractId), else the account's latest Closed Won closed on or before 31 days
-- after the contract's start; ARR = that Amount per 12 months of term. The account churned
-- when its last contract ended on or before the as-of date (churned_date = that EndDate).
with

contracts as (

    select * from {{ ref('stg_salesforce__contracts') }}

),

opportunities as (

    select * from {{ ref('int_crm_opportunities__unioned') }}
    where is_won and account_id is not null

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

terms as (

    select
        contract_id,
        account_id,
        start_date as term_start_date,
        coalesce(
            end_date,
            cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 'contract_term_months', 'start_date')) }} as date)
        ) as term_end_date,
        contract_term_months

    from contracts
    where status_category in ('Activated', 'Expired', 'Terminated')
        and account_id is not null
        and start_date is not null

),

valid_terms as (

    select
        *,
        {{ dbt.datediff('term_start_date', 'term_end_date', 'day') }} + 1 as term_days

    from terms
    where term_end_date is not null and term_end_date >= term_start_date

),

priced as (

    select
        valid_terms.*,
        opportunities.amount,
        opportunities.seats,
        opportunities.product,
        row_number() over (
            partition by valid_terms.contract_id
            order by
                case when opportunities.contract_id = valid_terms.contract_id then 0 else 1 end,
                opportunities.close_date desc,
                opportunities.opportunity_id desc
        ) as price_rank

    from valid_terms
    left join opportunities
        on opportunities.account_id = valid_terms.account_id
        and (
            opportunities.contract_id = valid_terms.contract_id
            or (
                opportunities.contract_id is null
                and opportunities.close_date
                    <= {{ dbt.dateadd('day', 31, 'valid_terms.term_start_date') }}
            )
        )

),

final as (

    select
        priced.contract_id as subscription_id,
        priced.account_id,
        priced.product,
        priced.term_start_date,
        priced.term_end_date,
        priced.term_end_date as renewal_date,
        priced.amount,
        priced.amount * 12.0 / greatest(
            coalesce(priced.contract_term_months, round(priced.term_days / 30.4375)), 1
        ) as arr_amount,
        priced.seats,
        case
            when max(priced.term_end_date) over (partition by priced.account_id) <= as_of.as_of_date
                then max(priced.term_end_date) over (partition by priced.account_id)
        end as account_churned_date,
        false as is_renewal_overdue

    from priced
    cross join as_of
    where priced.price_rank = 1

)

select * from final
