{%- set present = source_column_names('zendesk', 'organizations') -%}
with

source as (

    select * from {{ source('zendesk', 'organizations') }}

),

renamed as (

    select
        {{ to_integer('id') }} as organization_id,
        {{ blank_to_null(column_or_null(present, 'external_id')) }} as external_id,
        {{ blank_to_null(column_or_null(present, 'name')) }} as organization_name,
        {{ column_or_null(present, 'domain_names') }} as domain_names_json,
        {{ to_utc_timestamp(column_or_null(present, 'created_at')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'updated_at')) }} as updated_at,
        {{ to_utc_timestamp(column_or_null(present, 'deleted_at')) }} as deleted_at,
        _loaded_at

    from source

),

-- one row per organization_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'organization_id', 'updated_at desc nulls last, _loaded_at desc') }}

),

-- a deleted organization (deleted_at set in the incremental export) is not live
final as (

    select * from latest where deleted_at is null

)

select * from final
