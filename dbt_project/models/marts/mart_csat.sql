-- CSAT by day and segment: % of responses 4-5 on the 1-5 scale, with a 95% margin of error.
with

segmented as (

    select * from {{ ref('int_survey_responses__segmented') }}

),

counted as (

    select
        date_day,
        segment_type,
        segment_value,
        count(csat_score) as responses,
        count(case when csat_score >= 4 then 1 end) as satisfied

    from segmented
    group by date_day, segment_type, segment_value

),

final as (

    select
        date_day,
        segment_type,
        segment_value,
        responses,
        satisfied,
        round({{ percent_of('satisfied', 'responses') }}, 2) as csat,
        round({{ proportion_margin_of_error('satisfied', 'responses') }}, 2) as csat_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample

    from counted

)

select * from final
