-- One row per subscription term under the CRM's churn method (dbt var churn_methods,
-- from cxloop.yaml `sources.<name>.churn`; docs/metrics.md): renewal opportunities (default),
-- Opportunity term fields, or the Contract object. Every method gives the same columns, so
-- what reads subscriptions does not care which one ran. ARR = annual value of the term;
-- churn = the account's churned_date (set on every row of a churned account).
{%- set method = var('churn_methods', {}).get('salesforce', {}).get('method', 'renewal_opportunities') %}
{%- set models = {
    'renewal_opportunities': 'int_renewal_subscriptions__sequenced',
    'term_fields': 'int_term_subscriptions__annualized',
    'contract': 'int_contract_subscriptions__priced',
} %}
{%- if method not in models %}
    {{ exceptions.raise_compiler_error("var churn_methods.salesforce.method: " ~ method ~ " is not one of " ~ (models.keys() | join(', '))) }}
{%- endif %}
with

-- each method's model is referenced (dbt sees every dependency); only the chosen one is read
by_renewal_opportunities as (

    select * from {{ ref('int_renewal_subscriptions__sequenced') }}

),

by_term_fields as (

    select * from {{ ref('int_term_subscriptions__annualized') }}

),

by_contract as (

    select * from {{ ref('int_contract_subscriptions__priced') }}

),

terms as (

    select * from by_{{ method }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

sequenced as (

    select
        *,
        row_number() over (
            partition by account_id order by term_start_date, term_end_date, subscription_id
        ) as term_number,
        max(term_end_date) over (partition by account_id) as account_last_end_date,
        min(term_start_date) over (partition by account_id) as account_first_start_date

    from terms

),

final as (

    select
        sequenced.subscription_id,
        sequenced.account_id,
        sequenced.product,
        sequenced.term_number,
        sequenced.term_start_date,
        sequenced.term_end_date,
        sequenced.renewal_date,
        {{ dbt.datediff('sequenced.term_start_date', 'sequenced.term_end_date', 'day') }} + 1 as term_days,
        sequenced.amount,
        sequenced.arr_amount,
        sequenced.seats,
        sequenced.account_first_start_date,
        sequenced.term_end_date = sequenced.account_last_end_date as is_last_term,
        sequenced.account_churned_date is not null as is_account_churned,
        sequenced.account_churned_date,
        sequenced.is_renewal_overdue,
        sequenced.term_start_date <= as_of.as_of_date
            and sequenced.term_end_date >= as_of.as_of_date as is_active_at_as_of

    from sequenced
    cross join as_of

)

select * from final
