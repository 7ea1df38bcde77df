{%- set present = source_column_names('zendesk', 'ticket_comments') -%}
-- One row per comment of the per-ticket comments export (public replies, internal notes,
-- voice comments); the same comment landed twice (a re-exported page) keeps its latest landing.
with

source as (

    select * from {{ source('zendesk', 'ticket_comments') }}

),

renamed as (

    select
        {{ to_integer('id') }} as comment_id,
        {{ to_integer('ticket_id') }} as ticket_id,
        {{ to_integer(column_or_null(present, 'audit_id')) }} as audit_id,
        {{ to_integer(column_or_null(present, 'author_id')) }} as author_id,
        coalesce({{ blank_to_null(column_or_null(present, 'type')) }}, 'Comment') as comment_type,
        {{ to_boolean(column_or_null(present, 'public')) }} as is_public,
        -- the comment text: plain_body (Zendesk's plain-text rendering), else body
        coalesce(
            {{ blank_to_null(column_or_null(present, 'plain_body')) }},
            {{ blank_to_null(column_or_null(present, 'body')) }}
        ) as body,
        lower({{ json_text(column_or_null(present, 'via'), '$.channel') }}) as channel,
        {{ to_utc_timestamp('created_at') }} as created_at,
        _loaded_at

    from source

),

final as (

    {{ cx_latest_version('renamed', 'comment_id', '_loaded_at desc') }}

)

select * from final
