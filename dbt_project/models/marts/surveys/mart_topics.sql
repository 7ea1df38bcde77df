-- Open-text topics per month: how many answers name each topic and the NPS of those answers,
-- so NPS can be cut by the problems customers name. An answer can name several topics.
with

topics as (

    select * from {{ ref('int_survey_response_topics__tagged') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

open_text_per_month as (

    select
        cast({{ dbt.date_trunc('month', 'responded_date') }} as date) as month_start_date,
        count(*) as open_text_answers

    from responses
    where open_text is not null and trim(open_text) <> ''
    group by 1

),

tagged as (

    select
        cast({{ dbt.date_trunc('month', 'responses.responded_date') }} as date) as month_start_date,
        topics.topic,
        responses.nps_category

    from topics
    inner join responses
        on responses.response_id = topics.response_id

),

counted as (

    select
        month_start_date,
        topic,
        count(*) as mentions,
        count(nps_category) as nps_responses,
        count(case when nps_category = 'promoter' then 1 end) as promoters,
        count(case when nps_category = 'passive' then 1 end) as passives,
        count(case when nps_category = 'detractor' then 1 end) as detractors

    from tagged
    group by month_start_date, topic

),

final as (

    select
        counted.month_start_date,
        counted.topic,
        counted.mentions,
        open_text_per_month.open_text_answers,
        {{ cx_round(percent_of('counted.mentions', 'open_text_per_month.open_text_answers'), 2) }}
            as share_of_open_text_pct,
        counted.nps_responses,
        counted.promoters,
        counted.passives,
        counted.detractors,
        {{ cx_round(nps('counted.promoters', 'counted.detractors', 'counted.nps_responses'), 2) }} as nps,
        {{ cx_round(nps_margin_of_error('counted.promoters', 'counted.detractors', 'counted.nps_responses'), 2) }}
            as nps_margin_of_error,
        {{ is_small_sample('counted.nps_responses') }} as is_small_sample

    from counted
    inner join open_text_per_month
        on open_text_per_month.month_start_date = counted.month_start_date

)

select * from final
