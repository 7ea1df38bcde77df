{{ config(
    materialized='incremental',
    unique_key='ticket_event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}delete from {{ this }} where ticket_event_id in ("
        ~ "select ticket_event_id from {{ ref('stg_zendesk__ticket_events') }}"
        ~ " where _loaded_at > (select {{ cx_loaded_watermark() }} from {{ this }})){% endif %}"
    ],
) }}
-- One row per child event of a ticket audit: comments and field changes (unnesting, not a join).
-- Incremental like stg_zendesk__ticket_events: only the audits landed since the newest kept are
-- unnested; the pre-hook first removes every child of those audits (a new version of an audit
-- with fewer children leaves none behind), the delete+insert makes a re-run harmless.
with

ticket_events as (

    select * from {{ ref('stg_zendesk__ticket_events') }}
    {% if is_incremental() -%}
    where _loaded_at > (select {{ cx_loaded_watermark() }} from {{ this }})
    {%- endif %}

),

-- child_index: the child's 0-based position in the audit's child_events array
extracted as (

    {{ cx_unnest_json_array(
        'ticket_events', 'child_events_json',
        ['ticket_event_id', 'ticket_id', 'updater_id', 'event_at', '_loaded_at'],
        'child_index', 'child_event'
    ) }}

),

final as (

    select
        cast(ticket_event_id as varchar) || '-' || cast(child_index as varchar) as ticket_child_event_id,
        ticket_event_id,
        ticket_id,
        child_index,
        {{ to_integer(cx_json_get_text('child_event', 'id')) }} as child_event_id,
        {{ cx_json_get_text('child_event', 'event_type') }} as child_event_type,
        -- comment_events: a comment is event_type Comment or VoiceComment (a call recording)
        coalesce(
            {{ cx_json_get_text('child_event', 'event_type') }},
            {{ cx_json_get_text('child_event', 'type') }}
        ) in ('Comment', 'VoiceComment') as is_comment,
        case
            when coalesce(
                {{ cx_json_get_text('child_event', 'event_type') }},
                {{ cx_json_get_text('child_event', 'type') }}
            ) in ('Comment', 'VoiceComment')
                then coalesce(
                    {{ cx_json_get_text('child_event', 'type') }},
                    {{ cx_json_get_text('child_event', 'event_type') }}
                )
        end as comment_type,
        {{ to_integer(cx_json_get_text('child_event', 'author_id')) }} as comment_author_id,
        {{ to_boolean(cx_json_get_text('child_event', 'public')) }} as is_public_comment,
        nullif(trim(coalesce(
            {{ cx_json_get_text('child_event', 'plain_body') }},
            {{ cx_json_get_text('child_event', 'body') }}
        )), '') as comment_body,
        lower(coalesce(
            {{ cx_json_get_text('child_event', 'status') }},
            case when {{ cx_json_get_text('child_event', 'field_name') }} = 'status'
                then {{ cx_json_get_text('child_event', 'value') }} end
        )) as status,
        lower(
            case
                when {{ cx_json_get_text('child_event', 'status') }} is not null
                    or {{ cx_json_get_text('child_event', 'field_name') }} = 'status'
                    then {{ cx_json_get_text('child_event', 'previous_value') }}
            end
        ) as previous_status,
        coalesce({{ to_utc_timestamp(cx_json_get_text('child_event', 'created_at')) }}, event_at)
            as event_at,
        updater_id,
        _loaded_at

    from extracted

)

select * from final
