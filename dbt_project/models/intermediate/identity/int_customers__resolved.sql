{#- Identity phase 3 input: the identity step's clusters (stg_identity__clusters). Before the
    first identity run the table is empty, and it may be stale: a record it lacks stays its own
    customer, with the id the identity step would mint for a singleton and match_rule
    'unresolved'. -#}
-- One row per person record (Salesforce contact, Zendesk end-user, Qualtrics response) with
-- its customer_id and account_id from identity resolution (docs/identity.md).
with

person_records as (

    select * from {{ ref('int_person_records__unioned') }}

),

clusters as (

    select * from {{ ref('stg_identity__clusters') }}

),

final as (

    select
        person_records.source,
        person_records.source_record_id,
        coalesce(
            clusters.customer_id,
            'cus_' || left({{ dbt.hash("person_records.source || ':' || person_records.source_record_id") }}, 16)
        ) as customer_id,
        coalesce(clusters.account_id, person_records.account_hint) as account_id,
        coalesce(clusters.match_rule, 'unresolved') as match_rule,
        clusters.match_probability,
        case when person_records.source = 'salesforce' then person_records.source_record_id end
            as salesforce_contact_id,
        person_records.email_raw,
        person_records.email_normalized,
        person_records.is_email_valid,
        clusters.phone_e164,
        clusters.is_phone_valid,
        person_records.first_name,
        person_records.last_name,
        clusters.first_name_latin,
        clusters.last_name_latin,
        person_records.record_at

    from person_records
    left join clusters
        on clusters.source = person_records.source
        and clusters.source_record_id = person_records.source_record_id

)

select * from final
