-- CSAT by day and segment: % of responses 4-5 on the 1-5 scale, with a 95% margin of error
-- and the change against the previous day in the same segment (two-proportion z test).
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

compared as (

    select
        counted.*,
        previous.responses as previous_responses,
        {{ percent_of('previous.satisfied', 'previous.responses') }} as previous_csat_exact,
        {{ percent_of('counted.satisfied', 'counted.responses') }}
            - {{ percent_of('previous.satisfied', 'previous.responses') }} as csat_change_exact,
        {{ two_proportion_standard_error(
            'counted.satisfied', 'counted.responses', 'previous.satisfied', 'previous.responses'
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
        satisfied,
        {{ cx_round(percent_of('satisfied', 'responses'), 2) }} as csat,
        {{ cx_round(proportion_margin_of_error('satisfied', 'responses'), 2) }} as csat_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample,
        coalesce(previous_responses, 0) as previous_responses,
        {{ cx_round('previous_csat_exact', 2) }} as previous_csat,
        {{ cx_round('csat_change_exact', 2) }} as csat_change,
        {{ cx_round(change_z('csat_change_exact', 'change_standard_error'), 3) }} as csat_change_z,
        {{ is_significant(change_z('csat_change_exact', 'change_standard_error')) }}
            as is_csat_change_significant

    from compared

)

select * from final
