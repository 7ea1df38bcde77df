-- One row per open-text answer and customer ticket comment, as the voice stage scored it
-- (ml.text_sentiment; docs/voice.md).
with

source as (

    select * from {{ source('ml', 'text_sentiment') }}

),

renamed as (

    select
        text_id,
        text_kind,
        source_id,
        customer_id,
        account_id,
        written_at,
        language,
        sentiment_score,
        sentiment_label,
        method,
        model_version,
        scored_at

    from source

)

select * from renamed
