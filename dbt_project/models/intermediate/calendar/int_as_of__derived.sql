-- One row: the data's as-of time, the latest event seen in any source, so results never
-- depend on the wall clock (a rebuild of the same raw data gives the same marts).
with

event_times as (

    select max(last_modified_at) as latest_at from {{ ref('int_crm_accounts__unioned') }}
    union all
    select max(last_modified_at) from {{ ref('int_crm_contacts__unioned') }}
    union all
    select max(last_modified_at) from {{ ref('int_crm_opportunities__unioned') }}
    union all
    select max(updated_at) from {{ ref('stg_zendesk__tickets') }}
    union all
    select max(event_at) from {{ ref('stg_zendesk__ticket_events') }}
    union all
    select max(updated_at) from {{ ref('stg_zendesk__satisfaction_ratings') }}
    union all
    select max(responded_at) from {{ ref('int_survey_responses__unioned') }}

),

final as (

    select
        1 as as_of_id,
        max(latest_at) as as_of_at,
        cast(max(latest_at) as date) as as_of_date

    from event_times

)

select * from final
