{%- set present = source_column_names('zendesk', 'users') -%}
with

source as (

    select * from {{ source('zendesk', 'users') }}

),

renamed as (

    select
        {{ to_integer('id') }} as user_id,
        {{ to_integer(column_or_null(present, 'organization_id')) }} as organization_id,
        {{ blank_to_null(column_or_null(present, 'external_id')) }} as external_id,
        {{ blank_to_null(column_or_null(present, 'name')) }} as user_name,
        {{ blank_to_null(column_or_null(present, 'email')) }} as email,
        {{ normalize_email(column_or_null(present, 'email')) }} as email_normalized,
        {{ blank_to_null(column_or_null(present, 'phone')) }} as phone,
        {{ phone_e164(column_or_null(present, 'phone')) }} as phone_e164,
        lower({{ blank_to_null(column_or_null(present, 'role')) }}) as role,
        lower(trim({{ column_or_null(present, 'role') }})) in ('agent', 'admin') as is_agent,
        {{ blank_to_null(column_or_null(present, 'locale')) }} as locale,
        {{ normalize_language(column_or_null(present, 'locale')) }} as language,
        {{ blank_to_null(column_or_null(present, 'time_zone')) }} as time_zone,
        {{ blank_to_null(column_or_null(present, 'iana_time_zone')) }} as iana_time_zone,
        coalesce({{ to_boolean(column_or_null(present, 'active')) }}, true) as is_active,
        -- Zendesk marks a deleted user active: false (and may set deleted_at); a deleted agent
        -- stays here so that the replies they wrote still count as agent replies
        coalesce(not {{ to_boolean(column_or_null(present, 'active')) }}, false)
            or {{ to_utc_timestamp(column_or_null(present, 'deleted_at')) }} is not null as is_deleted,
        {{ to_utc_timestamp(column_or_null(present, 'created_at')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'updated_at')) }} as updated_at,
        _loaded_at

    from source

),

-- An agent who leaves is usually downgraded to end-user, then suspended or deleted: any
-- landed version with role agent or admin keeps their old comments agent comments.
with_role_history as (

    select
        *,
        max(case when is_agent then 1 else 0 end) over (partition by user_id) = 1
            as has_been_agent

    from renamed

),

-- one row per user_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('with_role_history', 'user_id', 'updated_at desc nulls last, _loaded_at desc') }}

)

select * from final
