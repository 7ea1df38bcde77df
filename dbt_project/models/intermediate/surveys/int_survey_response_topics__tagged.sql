{{ config(
    materialized='incremental',
    unique_key='response_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where response_id not in ("
        ~ "select response_id from {{ ref('int_survey_responses__unioned') }}"
        ~ " where response_id is not null and is_counted"
        ~ " and open_text is not null and trim(open_text) <> ''){% endif %}"
    ],
) }}
-- One row per open-text survey answer and topic it names (seeds/topic_keywords.csv, per
-- language; text and patterns normalized by normalize_text). An answer naming no known topic
-- gets the topic 'other'. Answers in a language with no keyword list are matched against all.
-- The answers of fct_survey_responses (the counted ones), read before the identity join: a
-- topic depends on the text and its language only, so resolving customers anew (new tickets
-- or contacts) does not redo the tagging.
-- Incremental (docs/decisions.md "Incremental models"): matching every answer against the
-- keywords is the costliest step of a build (a regular expression per answer and pattern), and
-- an answer's topics change only when its text or language does. A run tags only the answers
-- whose `answer_hash` (of language and text) is new; the pre-hook first removes the answers no
-- longer counted, and delete+insert replaces the topics of an answer whose text changed. A
-- change of the keywords (a project file) makes the build refresh fully.
with

answers as (

    -- answer_hash: of the language (null and '' apart, length-prefixed) and the text
    select
        *,
        {{ dbt.hash("coalesce(length(language) || ':' || language, '-') || open_text") }} as answer_hash

    from {{ ref('int_survey_responses__unioned') }}
    where response_id is not null and is_counted
        and open_text is not null and trim(open_text) <> ''

),

responses as (

    select * from answers
    {% if is_incremental() -%}
    where not exists (
        select 1 from {{ this }} as tagged
        where tagged.response_id = answers.response_id and tagged.answer_hash = answers.answer_hash
    )
    {%- endif %}

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
        responses.answer_hash,
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
        coalesce(matched.topic, 'other') as topic,
        normalized.answer_hash

    from normalized
    left join matched
        on matched.response_id = normalized.response_id

)

select * from final
