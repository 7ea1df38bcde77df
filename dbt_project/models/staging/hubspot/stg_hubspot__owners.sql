-- HubSpot owners (GET /crm/v3/owners) in the columns of stg_salesforce__users: the CSMs.
-- Their teams are in stg_hubspot__owner_teams (HubSpot has no manager field).
{%- set present = source_column_names('hubspot', 'owners') %}
with

source as (

    select * from {{ source('hubspot', 'owners') }}

),

renamed as (

    select
        {{ hubspot_id('id') }} as user_id,
        -- an owner has no user name: its e-mail is its HubSpot login
        {{ blank_to_null(column_or_null(present, 'email')) }} as username,
        {{ blank_to_null(column_or_null(present, 'email')) }} as email,
        {{ normalize_email(column_or_null(present, 'email')) }} as email_normalized,
        {{ blank_to_null(column_or_null(present, 'firstName')) }} as first_name,
        {{ blank_to_null(column_or_null(present, 'lastName')) }} as last_name,
        nullif(trim(
            coalesce({{ blank_to_null(column_or_null(present, 'firstName')) }}, '') || ' '
            || coalesce({{ blank_to_null(column_or_null(present, 'lastName')) }}, '')
        ), '') as full_name,
        cast(null as {{ dbt.type_string() }}) as title,
        -- HubSpot has no manager: escalation goes to the owner's primary team
        -- (stg_hubspot__owner_teams, docs/decisions.md)
        cast(null as {{ dbt.type_string() }}) as manager_user_id,
        -- archived (a deactivated user) is the only state HubSpot gives
        not coalesce({{ to_boolean(column_or_null(present, 'archived')) }}, false) as is_active,
        cast(null as {{ dbt.type_string() }}) as time_zone,
        cast(null as {{ dbt.type_string() }}) as locale,
        {{ to_utc_timestamp(column_or_null(present, 'updatedAt')) }} as updated_at,
        _loaded_at

    from source

),

latest as (

    {{ cx_latest_version('renamed', 'user_id', 'updated_at desc nulls last, _loaded_at desc') }}

),

final as (

    select
        user_id,
        username,
        email,
        email_normalized,
        first_name,
        last_name,
        full_name,
        title,
        manager_user_id,
        is_active,
        time_zone,
        locale,
        _loaded_at

    from latest

)

select * from final
