-- One row per owner and team (the owner's `teams`, latest version of the owner; unnesting, not
-- a join). The primary team is the owner's escalation group: HubSpot has no manager field.
{%- set present = source_column_names('hubspot', 'owners') %}
with

source as (

    select * from {{ source('hubspot', 'owners') }}

),

owners as (

    select
        {{ hubspot_id('id') }} as user_id,
        coalesce({{ column_or_null(present, 'teams') }}, '[]') as teams_json,
        {{ to_utc_timestamp(column_or_null(present, 'updatedAt')) }} as updated_at,
        _loaded_at

    from source

),

latest as (

    {{ cx_latest_version('owners', 'user_id', 'updated_at desc nulls last, _loaded_at desc') }}

),

teams as (

    {{ cx_unnest_json_array('latest', 'teams_json', ['user_id'], 'team_index', 'team') }}

),

final as (

    select
        user_id || '|' || {{ hubspot_id(cx_json_get_text('team', 'id')) }} as owner_team_id,
        user_id,
        {{ hubspot_id(cx_json_get_text('team', 'id')) }} as team_id,
        {{ blank_to_null(cx_json_get_text('team', 'name')) }} as team_name,
        coalesce({{ to_boolean(cx_json_get_text('team', 'primary')) }}, false) as is_primary

    from teams
    where {{ blank_to_null(cx_json_get_text('team', 'id')) }} is not null

)

select * from final
