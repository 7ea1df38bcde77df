-- CES by day and segment: mean effort score on 1-7, % easy (5-7), 95% margin of error of the mean.
with

segmented as (

    select * from {{ ref('int_survey_responses__segmented') }}

),

counted as (

    select
        date_day,
        segment_type,
        segment_value,
        count(ces_score) as responses,
        count(case when ces_score >= 5 then 1 end) as easy,
        avg(1.0 * ces_score) as ces_mean,
        stddev_samp(1.0 * ces_score) as ces_stddev

    from segmented
    group by date_day, segment_type, segment_value

),

final as (

    select
        date_day,
        segment_type,
        segment_value,
        responses,
        round(ces_mean, 2) as ces_mean,
        easy,
        round({{ percent_of('easy', 'responses') }}, 2) as ces_easy_pct,
        round({{ mean_margin_of_error('ces_stddev', 'responses') }}, 2) as ces_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample

    from counted

)

select * from final
