-- One row per organization and domain name (unnesting domain_names; not a join).
with

organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

unnested as (

    select
        organization_id,
        {{ cx_unnest_json_text_array("coalesce(domain_names_json, '[]')") }} as domain_name

    from organizations

),

final as (

    select distinct
        organization_id,
        {{ website_domain('domain_name') }} as domain

    from unnested
    where {{ website_domain('domain_name') }} is not null

)

select * from final
