-- One row per text and topic it names, keyword or learned (ml.text_topics; docs/voice.md).
with

source as (

    select * from {{ source('ml', 'text_topics') }}

),

renamed as (

    select
        text_id || '|' || topic || '|' || topic_source as text_topic_id,
        text_id,
        topic,
        topic_source,
        weight,
        topics_run_at

    from source

)

select * from renamed
