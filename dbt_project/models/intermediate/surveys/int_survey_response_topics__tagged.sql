-- One row per open-text survey answer and topic it names (seeds/topic_keywords.csv, per
-- language; text and patterns normalized by normalize_text). An answer naming no known topic
-- gets the topic 'other'. Answers in a language with no keyword list are matched against all.
-- The answers of fct_survey_responses (the counted ones), read before the identity join: a
-- topic depends on the text and its language only, so resolving customers anew (new tickets
-- or contacts) does not redo the tagging.
with

responses as (

    select * from {{ ref('int_survey_responses__unioned') }}
    where is_counted and open_text is not null and trim(open_text) <> ''

),

keywords as (

    select
        topic,
        lower(trim(language)) as language,
        {{ normalize_text('pattern') }} as normalized_pattern

    from {{ ref('topic_keywords') }}

),

languages as (

    select distinct language from keywords

),

normalized as (

    select
        responses.response_id,
        responses.language,
        responses.language in (select language from languages) as has_keyword_list,
        {{ normalize_text('responses.open_text') }} as normalized_text

    from responses

),

matched as (

    select distinct
        normalized.response_id,
        keywords.topic

    from normalized
    inner join keywords
        on (keywords.language = normalized.language or not normalized.has_keyword_list)
        and {{ cx_regexp_matches('normalized.normalized_text', 'keywords.normalized_pattern') }}

),

final as (

    select
        normalized.response_id || '|' || coalesce(matched.topic, 'other') as response_topic_id,
        normalized.response_id,
        coalesce(matched.topic, 'other') as topic

    from normalized
    left join matched
        on matched.response_id = normalized.response_id

)

select * from final
