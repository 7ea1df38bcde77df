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
            {{ dbt.safe_cast("to_timestamp(" ~ to_integer(column_or_null(present, 'timestamp')) ~ ")", dbt.type_timestamp()) }}
        ) as event_at,
        coalesce({{ column_or_null(present, 'child_events') }}, '[]') as child_events_json,
        _loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by ticket_event_id order by _loaded_at desc) as version_rank

    from renamed

),

final as (

    select {{ star_except(['version_rank']) }} from ranked where version_rank = 1

)

select * from final
