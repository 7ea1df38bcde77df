-- One row per child event of a ticket audit: comments and field changes (unnesting, not a join).
with

ticket_events as (

    select * from {{ ref('stg_zendesk__ticket_events') }}

),

unnested as (

    select
        ticket_event_id,
        ticket_id,
        updater_id,
        event_at,
        unnest(list_transform(
            from_json(child_events_json, '["json"]'),
            lambda child, position: {'child_index': position - 1, 'child_event': child}
        )) as child

    from ticket_events

),

extracted as (

    select
        ticket_event_id,
        ticket_id,
        updater_id,
        event_at,
        child.child_index as child_index,
        child.child_event as child_event

    from unnested

),

final as (

    select
        cast(ticket_event_id as varchar) || '-' || cast(child_index as varchar) as ticket_child_event_id,
        ticket_event_id,
        ticket_id,
        child_index,
        {{ to_integer("json_extract_string(child_event, '$.id')") }} as child_event_id,
        json_extract_string(child_event, '$.event_type') as child_event_type,
        coalesce(
            json_extract_string(child_event, '$.event_type'),
            json_extract_string(child_event, '$.type')
        ) = 'Comment' as is_comment,
        {{ to_integer("json_extract_string(child_event, '$.author_id')") }} as comment_author_id,
        {{ to_boolean("json_extract_string(child_event, '$.public')") }} as is_public_comment,
        lower(coalesce(
            json_extract_string(child_event, '$.status'),
            case when json_extract_string(child_event, '$.field_name') = 'status'
                then json_extract_string(child_event, '$.value') end
        )) as status,
        lower(
            case
                when json_extract_string(child_event, '$.status') is not null
                    or json_extract_string(child_event, '$.field_name') = 'status'
                    then json_extract_string(child_event, '$.previous_value')
            end
        ) as previous_status,
        coalesce({{ to_utc_timestamp("json_extract_string(child_event, '$.created_at')") }}, event_at)
            as event_at,
        updater_id

    from extracted

)

select * from final
