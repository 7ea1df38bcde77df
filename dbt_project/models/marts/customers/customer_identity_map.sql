-- Where each person record went: one row per source record, with the rule that placed it.
with

resolved as (

    select * from {{ ref('int_customers__resolved') }}

),

final as (

    select
        source,
        source_record_id,
        source || ':' || source_record_id as identity_record_id,
        customer_id,
        account_id,
        match_rule,
        match_probability

    from resolved

)

select * from final
