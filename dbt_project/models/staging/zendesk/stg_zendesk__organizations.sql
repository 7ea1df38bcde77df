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
        _loaded_at

    from source

),

-- one row per organization_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('renamed', 'organization_id', 'updated_at desc nulls last, _loaded_at desc') }}

)

select * from final
