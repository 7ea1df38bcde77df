-- The latest churn score of each account (newest snapshot, then newest run), and the
-- probability of its latest score on an earlier snapshot (the trend a CSM reads).
with

scores as (

    select * from {{ ref('stg_ml__churn_scores') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by account_id
            order by snapshot_date desc, scored_at desc, model_version desc
        ) as recency_rank

    from scores

),

latest as (

    select * from ranked where recency_rank = 1

),

previous as (

    select
        scores.account_id,
        scores.churn_probability,
        row_number() over (
            partition by scores.account_id
            order by scores.snapshot_date desc, scores.scored_at desc, scores.model_version desc
        ) as recency_rank

    from scores
    inner join latest
        on latest.account_id = scores.account_id
        and scores.snapshot_date < latest.snapshot_date

),

final as (

    select
        latest.account_id,
        latest.churn_probability,
        latest.risk_band,
        latest.top_drivers,
        latest.model_version,
        latest.scored_at,
        latest.snapshot_date,
        previous.churn_probability as previous_probability

    from latest
    left join previous
        on previous.account_id = latest.account_id
        and previous.recency_rank = 1

)

select * from final
