-- Customer lifetime value and the part of it the churn risk puts at risk, for the whole book
-- ('all') and per CSM, region and plan, over the customer accounts (not churned, ARR above 0)
-- at the as-of date (docs/metrics.md "Customer lifetime value").
{%- set segment_columns = {'csm': 'csm_user_id', 'region': 'region', 'plan': 'plan'} %}
with

accounts as (

    select * from {{ ref('dim_accounts') }}
    where not is_churned and arr_amount > 0

),

segmented as (

    select 'all' as segment_type, 'all' as segment_value, * from accounts
    {%- for segment_type, column in segment_columns.items() %}
    union all
    select
        '{{ segment_type }}', coalesce(cast({{ column }} as {{ dbt.type_string() }}), 'unknown'), *
    from accounts
    {%- endfor %}

),

final as (

    select
        segment_type,
        segment_value,
        count(*) as accounts,
        count(churn_probability) as scored_accounts,
        count(case when churn_risk_band = 'high' then 1 end) as high_risk_accounts,
        sum(arr_amount) as arr_amount,
        sum(clv_historical_amount) as clv_historical_amount,
        sum(clv_predicted_amount) as clv_predicted_amount,
        sum(clv_if_retained_amount) as clv_if_retained_amount,
        sum(clv_at_risk_amount) as clv_at_risk_amount,
        sum(case when churn_risk_band = 'high' then clv_at_risk_amount else 0 end)
            as high_risk_clv_at_risk_amount

    from segmented
    group by segment_type, segment_value

)

select * from final
