-- One row per counted, dated survey response: its scores and every value it is segmented by
-- (its account's region, plan, product and CSM; the survey's kind, language, touchpoint and
-- channel). int_survey_responses__segmented spreads it to one row per segment type as a view:
-- the marts read that grain, and a table of it (9 rows a response) cost more to write than
-- the marts to read it (docs/benchmarks.md).
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

final as (

    select
        response_id,
        date_day,
        nps_score,
        nps_category,
        csat_score,
        ces_score,
        region,
        plan,
        product,
        survey_kind,
        language,
        touchpoint,
        channel,
        csm_user_id

    from with_product

)

select * from final
