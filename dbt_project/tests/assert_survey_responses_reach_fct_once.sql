-- Count parity: every staging survey response (not test or spam) appears exactly once in
-- fct_survey_responses, and nothing else does. Returns the offending response ids.
with

staged as (

    select response_id from {{ ref('int_survey_responses__unioned') }} where is_counted

),

facts as (

    select response_id, count(*) as copies
    from {{ ref('fct_survey_responses') }}
    group by response_id

),

final as (

    select
        coalesce(staged.response_id, facts.response_id) as response_id,
        coalesce(facts.copies, 0) as copies_in_fct,
        staged.response_id is not null as is_in_staging

    from staged
    full outer join facts
        on facts.response_id = staged.response_id
    where facts.response_id is null
        or staged.response_id is null
        or facts.copies <> 1

)

select * from final
