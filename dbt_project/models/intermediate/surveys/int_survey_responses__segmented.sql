-- One row per survey response and segment type, the grain the metric marts aggregate.
-- Unknown segment values become 'unknown' so that no response is dropped from a total.
with

responses as (

    select * from {{ ref('int_survey_responses__unioned') }} where is_counted

),

identities as (

    select * from {{ ref('int_customers__resolved') }}

),

accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__derived') }}

),

enriched as (

    select
        responses.response_id,
        cast(responses.responded_at as date) as date_day,
        responses.nps_score,
        responses.nps_category,
        responses.csat_score,
        responses.ces_score,
        accounts.region,
        accounts.plan,
        accounts.owner_user_id as csm_user_id,
        responses.survey_kind,
        responses.language,
        responses.touchpoint,
        responses.channel,
        identities.account_id

    from responses
    left join identities
        on identities.source = responses.source
        and identities.source_record_id = responses.response_id
    left join accounts
        on accounts.account_id = identities.account_id
    where responses.responded_at is not null

),

-- The product of the account's subscription term active when the response was recorded
-- (the latest-started one), else of the latest term started before it.
product_candidates as (

    select
        enriched.*,
        subscriptions.product,
        row_number() over (
            partition by enriched.response_id
            order by
                (subscriptions.term_end_date >= enriched.date_day) desc nulls last,
                subscriptions.term_start_date desc nulls last,
                subscriptions.subscription_id
        ) as product_rank

    from enriched
    left join subscriptions
        on subscriptions.account_id = enriched.account_id
        and subscriptions.term_start_date <= enriched.date_day

),

with_product as (

    select * from product_candidates where product_rank = 1

),

{%- set segment_columns = {
    'region': 'region',
    'plan': 'plan',
    'product': 'product',
    'survey_kind': 'survey_kind',
    'language': 'language',
    'touchpoint': 'touchpoint',
    'channel': 'channel',
    'csm': 'csm_user_id',
} %}

segmented as (

    select
        response_id, date_day, 'all' as segment_type, 'all' as segment_value,
        nps_score, nps_category, csat_score, ces_score
    from with_product
    {%- for segment_type, column in segment_columns.items() %}
    union all
    select
        response_id, date_day, '{{ segment_type }}', coalesce(cast({{ column }} as {{ dbt.type_string() }}), 'unknown'),
        nps_score, nps_category, csat_score, ces_score
    from with_product
    {%- endfor %}

),

final as (

    select * from segmented

)

select * from final
