-- One row per stage of a deal pipeline (GET /crm/v3/pipelines/deals), the latest version of
-- each pipeline; unnesting `stages`, not a join.
{%- set present = source_column_names('hubspot', 'deal_pipelines') %}
with

source as (

    select * from {{ source('hubspot', 'deal_pipelines') }}

),

pipelines as (

    select
        {{ blank_to_null('id') }} as pipeline_id,
        {{ blank_to_null(column_or_null(present, 'label')) }} as pipeline_label,
        coalesce({{ to_boolean(column_or_null(present, 'archived')) }}, false) as is_pipeline_archived,
        {{ column_or_null(present, 'stages') }} as stages_json,
        {{ to_utc_timestamp(column_or_null(present, 'updatedAt')) }} as updated_at,
        _loaded_at

    from source

),

latest as (

    {{ cx_latest_version('pipelines', 'pipeline_id', 'updated_at desc nulls last, _loaded_at desc') }}

),

stages as (

    {{ cx_unnest_json_array(
        'latest', 'stages_json',
        ['pipeline_id', 'pipeline_label', 'is_pipeline_archived'],
        'stage_index', 'stage'
    ) }}

),

renamed as (

    select
        pipeline_id,
        pipeline_label,
        {{ blank_to_null(cx_json_get_text('stage', 'id')) }} as stage_id,
        {{ blank_to_null(cx_json_get_text('stage', 'label')) }} as stage_label,
        {{ to_integer(cx_json_get_text('stage', 'displayOrder')) }} as display_order,
        -- metadata values are text: {"isClosed": "true", "probability": "1.0"}
        {{ to_numeric(json_text(cx_json_get_text('stage', 'metadata'), '$.probability')) }} as probability,
        coalesce({{ to_boolean(json_text(cx_json_get_text('stage', 'metadata'), '$.isClosed')) }}, false) as is_closed,
        is_pipeline_archived
            or coalesce({{ to_boolean(cx_json_get_text('stage', 'archived')) }}, false) as is_archived

    from stages

),

final as (

    select
        pipeline_id || ':' || stage_id as deal_stage_id,
        pipeline_id,
        pipeline_label,
        stage_id,
        stage_label,
        display_order,
        probability,
        is_closed,
        -- won: a closed stage at probability 1.0 (HubSpot's closedwon and custom won stages)
        is_closed and coalesce(probability = 1 or stage_id = 'closedwon', false) as is_won,
        is_archived

    from renamed
    where stage_id is not null

)

select * from final
