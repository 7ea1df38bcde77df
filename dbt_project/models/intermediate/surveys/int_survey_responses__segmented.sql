{{ config(materialized='view') }}
-- One row per survey response and segment type, the grain the metric marts aggregate.
-- Unknown segment values become 'unknown' so that no response is dropped from a total.
-- A view: its rows are int_survey_responses__enriched's, nine times over.
{%- set segment_columns = {
    'region': 'region',
    'plan': 'plan',
    'product': 'product',
    'survey_kind': 'survey_kind',
    'language': 'language',
    'touchpoint': 'touchpoint',
    'channel': 'channel',
    'csm': 'csm_user_id',
} %}
with

responses as (

    select * from {{ ref('int_survey_responses__enriched') }}

),

segmented as (

    select
        response_id, date_day, 'all' as segment_type, 'all' as segment_value,
        nps_score, nps_category, csat_score, ces_score
    from responses
    {%- for segment_type, column in segment_columns.items() %}
    union all
    select
        response_id, date_day, '{{ segment_type }}', coalesce(cast({{ column }} as {{ dbt.type_string() }}), 'unknown'),
        nps_score, nps_category, csat_score, ces_score
    from responses
    {%- endfor %}

),

final as (

    select * from segmented

)

select * from final
