{{ config(
    materialized='incremental',
    unique_key='ticket_event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
{%- set present = source_column_names('zendesk', 'ticket_events') -%}
-- One row per ticket audit (time-based export pages can repeat one: keep the latest landing).
-- Incremental (the largest raw table; docs/decisions.md): a run reads only the landings newer
-- than the newest it kept, and replaces the audits they carry. Raw is append-only and a
-- landing's _loaded_at is later than every earlier landing's, so the latest version of an
-- audit is always in the newest landings; an erasure or a project change refreshes fully.
with

source as (

    select * from {{ source('zendesk', 'ticket_events') }}
    {% if is_incremental() -%}
    where _loaded_at > (select {{ cx_loaded_watermark() }} from {{ this }})
    {%- endif %}

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
