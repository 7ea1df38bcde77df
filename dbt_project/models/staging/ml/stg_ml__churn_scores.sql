-- One row per account and scoring run (model_version + snapshot_date), as the score flow
-- wrote it (ml.churn_scores; docs/churn.md).
with

source as (

    select * from {{ source('ml', 'churn_scores') }}

),

renamed as (

    select
        account_id,
        scored_at,
        model_version,
        churn_probability,
        risk_band,
        top_drivers,
        snapshot_date

    from source

)

select * from renamed
