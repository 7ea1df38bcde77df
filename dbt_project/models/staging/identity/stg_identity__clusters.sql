-- One row per person record with the customer it was resolved to, as the identity step wrote
-- it (intermediate.identity_clusters, between the two dbt phases; docs/identity.md).
with

source as (

    select * from {{ source('identity', 'identity_clusters') }}

),

renamed as (

    select
        source,
        source_record_id,
        customer_id,
        account_id,
        match_rule,
        match_probability,
        email_normalized,
        is_email_valid,
        phone_e164,
        is_phone_valid,
        first_name_latin,
        last_name_latin,
        resolved_at,
        run_id

    from source

)

select * from renamed
