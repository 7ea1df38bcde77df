{#- Did detractors hear back, how fast, and did their next score move? Per playbook and month
    of the detractor's response. Reads the action ledger (stg_ops__playbook_actions), written by
    the act flow, not by dbt. -#}
with

responses as (

    select * from {{ ref('fct_survey_responses') }} where nps_score is not null

),

actions as (

    select
        action_id,
        playbook,
        channel,
        status,
        sent_at,
        response_id

    from {{ ref('stg_ops__playbook_actions') }}

),

delivery_events as (

    select distinct action_id
    from {{ ref('stg_sendgrid__events') }}
    where is_delivered and action_id is not null

),

follow_ups as (

    select
        actions.playbook,
        actions.response_id,
        min(case when actions.status = 'sent' then actions.sent_at end) as first_contact_at,
        bool_or(actions.status = 'sent') as is_followed_up,
        bool_or(actions.channel = 'email' and delivery_events.action_id is not null)
            as is_delivered

    from actions
    left join delivery_events
        on delivery_events.action_id = actions.action_id
    where actions.response_id is not null
    group by actions.playbook, actions.response_id

),

playbooks as (

    select distinct playbook from follow_ups

),

next_responses as (

    select
        response_id,
        lead(nps_score) over (
            partition by customer_id order by responded_at, response_id
        ) as next_nps_score

    from responses
    where customer_id is not null

),

detractors as (

    select
        responses.response_id,
        responses.nps_score,
        responses.responded_at,
        cast({{ dbt.date_trunc('month', 'responses.responded_at') }} as date) as response_month,
        next_responses.next_nps_score

    from responses
    left join next_responses
        on next_responses.response_id = responses.response_id
    where responses.nps_category = 'detractor'

),

outcomes as (

    select
        playbooks.playbook,
        detractors.response_month,
        detractors.nps_score,
        detractors.next_nps_score,
        coalesce(follow_ups.is_followed_up, false) as is_followed_up,
        coalesce(follow_ups.is_followed_up and follow_ups.is_delivered, false) as is_loop_closed,
        {{ dbt.datediff('detractors.responded_at', 'follow_ups.first_contact_at', 'second') }} / 3600.0
            as hours_to_first_contact

    from detractors
    cross join playbooks
    left join follow_ups
        on follow_ups.playbook = playbooks.playbook
        and follow_ups.response_id = detractors.response_id

),

final as (

    select
        playbook || ':' || {{ cx_year_month('response_month') }} as loop_closure_id,
        playbook,
        response_month,
        count(*) as detractors,
        count(case when is_followed_up then 1 end) as followed_up,
        count(case when is_loop_closed then 1 end) as loops_closed,
        cast(count(case when is_loop_closed then 1 end) as {{ cx_type('double') }}) / count(*)
            as loop_closure_rate,
        avg(hours_to_first_contact) as avg_hours_to_first_contact,
        {{ cx_median('hours_to_first_contact') }} as median_hours_to_first_contact,
        count(case when is_followed_up and next_nps_score is not null then 1 end)
            as followed_up_with_next_response,
        avg(case when is_followed_up then next_nps_score - nps_score end)
            as avg_nps_change_followed_up,
        count(case when not is_followed_up and next_nps_score is not null then 1 end)
            as not_followed_up_with_next_response,
        avg(case when not is_followed_up then next_nps_score - nps_score end)
            as avg_nps_change_not_followed_up

    from outcomes
    group by playbook, response_month

)

select * from final
