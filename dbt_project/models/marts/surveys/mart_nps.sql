-- NPS by day and segment: % promoters (9-10) - % detractors (0-6), with a 95% margin of error
-- and the change against the previous day in the same segment (variance-based z test).
with

segmented as (

    select * from {{ ref('int_survey_responses__segmented') }}

),

counted as (

    select
        date_day,
        segment_type,
        segment_value,
        count(nps_category) as responses,
        count(case when nps_category = 'promoter' then 1 end) as promoters,
        count(case when nps_category = 'passive' then 1 end) as passives,
        count(case when nps_category = 'detractor' then 1 end) as detractors

    from segmented
    group by date_day, segment_type, segment_value

),

compared as (

    select
        counted.*,
        previous.responses as previous_responses,
        {{ nps('previous.promoters', 'previous.detractors', 'previous.responses') }} as previous_nps_exact,
        {{ nps('counted.promoters', 'counted.detractors', 'counted.responses') }}
            - {{ nps('previous.promoters', 'previous.detractors', 'previous.responses') }}
            as nps_change_exact,
        sqrt(
            power({{ nps_standard_error('counted.promoters', 'counted.detractors', 'counted.responses') }}, 2)
            + power({{ nps_standard_error('previous.promoters', 'previous.detractors', 'previous.responses') }}, 2)
        ) as change_standard_error

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
        promoters,
        passives,
        detractors,
        {{ cx_round(nps('promoters', 'detractors', 'responses'), 2) }} as nps,
        {{ cx_round(nps_margin_of_error('promoters', 'detractors', 'responses'), 2) }} as nps_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample,
        coalesce(previous_responses, 0) as previous_responses,
        {{ cx_round('previous_nps_exact', 2) }} as previous_nps,
        {{ cx_round('nps_change_exact', 2) }} as nps_change,
        {{ cx_round(change_z('nps_change_exact', 'change_standard_error'), 3) }} as nps_change_z,
        {{ is_significant(change_z('nps_change_exact', 'change_standard_error')) }}
            as is_nps_change_significant

    from compared

)

select * from final
