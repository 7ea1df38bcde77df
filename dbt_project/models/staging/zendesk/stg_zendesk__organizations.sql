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

ranked as (

    select
        *,
        row_number() over (
            partition by organization_id order by updated_at desc nulls last, _loaded_at desc
        ) as version_rank

    from renamed

),

final as (

    select {{ star_except(['version_rank']) }} from ranked where version_rank = 1

)

select * from final
