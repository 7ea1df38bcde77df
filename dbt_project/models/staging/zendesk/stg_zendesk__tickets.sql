{%- set present = source_column_names('zendesk', 'tickets') -%}
-- One row per ticket: the latest exported version (updated_at, then _loaded_at) wins.
with

source as (

    select * from {{ source('zendesk', 'tickets') }}

),

renamed as (

    select
        {{ to_integer('id') }} as ticket_id,
        {{ to_integer(column_or_null(present, 'requester_id')) }} as requester_id,
        {{ to_integer(column_or_null(present, 'submitter_id')) }} as submitter_id,
        {{ to_integer(column_or_null(present, 'assignee_id')) }} as assignee_id,
        {{ to_integer(column_or_null(present, 'organization_id')) }} as organization_id,
        {{ to_integer(column_or_null(present, 'group_id')) }} as group_id,
        {{ blank_to_null(column_or_null(present, 'external_id')) }} as external_id,
        {{ blank_to_null(column_or_null(present, 'type')) }} as ticket_type,
        {{ column_or_null(present, 'subject') }} as subject,
        lower({{ blank_to_null(column_or_null(present, 'priority')) }}) as priority,
        lower({{ blank_to_null('status') }}) as status,
        lower({{ json_text(column_or_null(present, 'via'), '$.channel') }}) as channel,
        lower({{ json_text(column_or_null(present, 'satisfaction_rating'), '$.score') }}) as satisfaction_rating_score,
        {{ column_or_null(present, 'tags') }} as tags_json,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp(column_or_null(present, 'deleted_at')) }} as deleted_at,
        _loaded_at

    from source

),

-- one row per ticket_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'ticket_id', 'updated_at desc nulls last, _loaded_at desc') }}

),

-- a ticket whose latest version is deleted (status `deleted` in the incremental export) is
-- not live: raw keeps it, nothing downstream sees it
final as (

    select
        *,
        status in ('new', 'open', 'pending', 'hold') as is_open

    from latest
    where coalesce(status, '') <> 'deleted' and deleted_at is null

)

select * from final
