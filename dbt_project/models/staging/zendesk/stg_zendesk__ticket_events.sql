{%- set present = source_column_names('zendesk', 'ticket_events') -%}
-- One row per ticket audit (time-based export pages can repeat one: keep the latest landing).
with

source as (

    select * from {{ source('zendesk', 'ticket_events') }}

),

renamed as (

    select
        {{ to_integer('id') }} as ticket_event_id,
        {{ to_integer('ticket_id') }} as ticket_id,
        {{ to_integer(column_or_null(present, 'updater_id')) }} as updater_id,
        {{ blank_to_null(column_or_null(present, 'event_type')) }} as event_type,
        lower(coalesce({{ json_text(column_or_null(present, 'via'), '$.channel') }}, {{ blank_to_null(column_or_null(present, 'via')) }})) as channel,
        coalesce(
            {{ to_utc_timestamp(column_or_null(present, 'created_at')) }},
            {{ cx_epoch_seconds_to_timestamp(to_integer(column_or_null(present, 'timestamp'))) }}
        ) as event_at,
        coalesce({{ column_or_null(present, 'child_events') }}, '[]') as child_events_json,
        _loaded_at

    from source

),

-- one row per ticket_event_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('renamed', 'ticket_event_id', '_loaded_at desc') }}

)

select * from final
