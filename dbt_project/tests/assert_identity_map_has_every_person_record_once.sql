-- Count parity: every person record (Salesforce contact, Zendesk end-user, survey
-- response of any survey source) appears exactly once in customer_identity_map, and nothing else does.
with

person_records as (

    select crm_source as source, contact_id as source_record_id
    from {{ ref('int_crm_contacts__unioned') }}
    union all
    select 'zendesk', cast(user_id as varchar)
    from {{ ref('stg_zendesk__users') }}
    where not is_agent and not is_deleted
    union all
    select source, response_id
    from {{ ref('int_survey_responses__unioned') }}
    where is_counted

),

mapped as (

    select source, source_record_id, count(*) as copies
    from {{ ref('customer_identity_map') }}
    group by source, source_record_id

),

final as (

    select
        coalesce(person_records.source, mapped.source) as source,
        coalesce(person_records.source_record_id, mapped.source_record_id) as source_record_id,
        coalesce(mapped.copies, 0) as copies_in_map

    from person_records
    full outer join mapped
        on mapped.source = person_records.source
        and mapped.source_record_id = person_records.source_record_id
    where mapped.source is null
        or person_records.source is null
        or mapped.copies <> 1

)

select * from final
