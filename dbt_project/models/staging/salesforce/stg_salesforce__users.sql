{%- set present = source_column_names('salesforce', 'user') -%}
with

source as (

    select * from {{ source('salesforce', 'user') }}

),

renamed as (

    select
        {{ blank_to_null('"Id"') }} as user_id,
        {{ blank_to_null(column_or_null(present, 'Username')) }} as username,
        {{ blank_to_null(column_or_null(present, 'Email')) }} as email,
        {{ normalize_email(column_or_null(present, 'Email')) }} as email_normalized,
        {{ blank_to_null(column_or_null(present, 'FirstName')) }} as first_name,
        {{ blank_to_null(column_or_null(present, 'LastName')) }} as last_name,
        {{ blank_to_null(column_or_null(present, 'Name')) }} as full_name,
        {{ blank_to_null(column_or_null(present, 'Title')) }} as title,
        {{ blank_to_null(column_or_null(present, 'ManagerId')) }} as manager_user_id,
        coalesce({{ to_boolean(column_or_null(present, 'IsActive')) }}, false) as is_active,
        {{ blank_to_null(column_or_null(present, 'TimeZoneSidKey')) }} as time_zone,
        {{ blank_to_null(column_or_null(present, 'LocaleSidKey')) }} as locale,
        _loaded_at

    from source

),

-- one row per user_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('renamed', 'user_id', '_loaded_at desc') }}

)

select * from final
