{%- set present = source_column_names('zendesk', 'satisfaction_ratings') -%}
with

source as (

    select * from {{ source('zendesk', 'satisfaction_ratings') }}

),

renamed as (

    select
        {{ to_integer('id') }} as satisfaction_rating_id,
        {{ to_integer('ticket_id') }} as ticket_id,
        {{ to_integer(column_or_null(present, 'requester_id')) }} as requester_id,
        {{ to_integer(column_or_null(present, 'assignee_id')) }} as assignee_id,
        {{ to_integer(column_or_null(present, 'group_id')) }} as group_id,
        lower({{ blank_to_null('score') }}) as score,
        lower(trim(score)) in ('good', 'bad') as is_rated,
        {{ blank_to_null(column_or_null(present, 'comment')) }} as comment,
        {{ blank_to_null(column_or_null(present, 'reason')) }} as reason,
        {{ to_utc_timestamp(column_or_null(present, 'created_at')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'updated_at')) }} as updated_at,
        _loaded_at

    from source

),

-- one row per satisfaction_rating_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('renamed', 'satisfaction_rating_id', 'updated_at desc nulls last, _loaded_at desc') }}

)

select * from final
