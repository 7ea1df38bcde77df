-- NPS by day and segment: % promoters (9-10) - % detractors (0-6), with a 95% margin of error.
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

final as (

    select
        date_day,
        segment_type,
        segment_value,
        responses,
        promoters,
        passives,
        detractors,
        round({{ nps('promoters', 'detractors', 'responses') }}, 2) as nps,
        round({{ nps_margin_of_error('promoters', 'detractors', 'responses') }}, 2) as nps_margin_of_error,
        {{ is_small_sample('responses') }} as is_small_sample

    from counted

)

select * from final
