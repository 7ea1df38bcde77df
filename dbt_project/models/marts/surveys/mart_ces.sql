-- CES by day and segment: mean effort score on 1-7, % easy (5-7), 95% margin of error of the
-- mean, and the change of the mean against the previous day in the same segment (Welch z test).
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

compared as (

    select
        counted.*,
        previous.responses as previous_responses,
        previous.ces_mean as previous_ces_mean_exact,
        counted.ces_mean - previous.ces_mean as ces_change_exact,
        {{ two_mean_standard_error(
            'counted.ces_stddev', 'counted.responses', 'previous.ces_stddev', 'previous.responses'
        ) }} as change_standard_error

    from counted
    left join counted as previous
        on previous.segment_type = counted.segment_type
        and previous.segment_value = counted.segment_value
        and previous.date_day = counted.date_day - 1

),

final as (

    select
        date_day,
        segment_type,
        segment_value,
        responses,
        {{ cx_round('ces_mean', 2) }} as ces_mean,
        easy,
        {{ cx_round(percent_of('easy', 'responses'), 2) }} as ces_easy_pct,
        {{ cx_round(mean_margin_of_error('ces_stddev', 'responses'), 2) }} as ces_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample,
        coalesce(previous_responses, 0) as previous_responses,
        {{ cx_round('previous_ces_mean_exact', 2) }} as previous_ces_mean,
        {{ cx_round('ces_change_exact', 2) }} as ces_mean_change,
        {{ cx_round(change_z('ces_change_exact', 'change_standard_error'), 3) }} as ces_mean_change_z,
        {{ is_significant(change_z('ces_change_exact', 'change_standard_error')) }}
            as is_ces_mean_change_significant

    from compared

)

select * from final
