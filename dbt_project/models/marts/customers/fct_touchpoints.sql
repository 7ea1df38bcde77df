-- Every interaction with every customer in one timeline: ticket opened, agent reply (public
-- comment), internal note, survey response, opportunity change (account level: customer_id is
-- null) and playbook e-mail sent. Tickets and their comments only while the ticket is live.
with

playbook_actions as (

    select * from {{ ref('stg_ops__playbook_actions') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

ticket_events as (

    select * from {{ ref('int_ticket_events__classified') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

opportunities as (

    select * from {{ ref('int_crm_opportunities__unioned') }}

),

identities as (

    select * from {{ ref('int_customers__resolved') }}

),

ticket_opened as (

    select
        'ticket_opened' as touchpoint_type,
        tickets.created_at as touched_at,
        tickets.customer_id,
        tickets.account_id,
        coalesce(tickets.channel, 'unknown') as channel,
        'zendesk' as source,
        'ticket' as source_entity,
        cast(tickets.ticket_id as varchar) as source_record_id

    from tickets

),

agent_reply as (

    select
        'agent_reply' as touchpoint_type,
        ticket_events.event_at as touched_at,
        tickets.customer_id,
        tickets.account_id,
        coalesce(tickets.channel, 'unknown') as channel,
        'zendesk' as source,
        'ticket_comment' as source_entity,
        ticket_events.ticket_comment_id as source_record_id

    from ticket_events
    inner join tickets
        on tickets.ticket_id = ticket_events.ticket_id
    where ticket_events.is_agent_reply

),

-- an internal note (public: false) is no reply and the customer never saw it, but it is work
-- on their ticket: kept in the timeline as its own type
internal_note as (

    select
        'internal_note' as touchpoint_type,
        ticket_events.event_at as touched_at,
        tickets.customer_id,
        tickets.account_id,
        'internal' as channel,
        'zendesk' as source,
        'ticket_comment' as source_entity,
        ticket_events.ticket_comment_id as source_record_id

    from ticket_events
    inner join tickets
        on tickets.ticket_id = ticket_events.ticket_id
    where ticket_events.is_internal_note

),

survey_response as (

    select
        'survey_response' as touchpoint_type,
        responses.responded_at as touched_at,
        responses.customer_id,
        responses.account_id,
        coalesce(responses.channel, 'unknown') as channel,
        responses.source,
        'response' as source_entity,
        responses.response_id as source_record_id

    from responses

),

opportunity_change as (

    select
        'opportunity_change' as touchpoint_type,
        coalesce(opportunities.last_modified_at, opportunities.created_at) as touched_at,
        cast(null as varchar) as customer_id,
        opportunities.account_id,
        'sales' as channel,
        opportunities.crm_source as source,
        'opportunity' as source_entity,
        opportunities.opportunity_id as source_record_id

    from opportunities

),

playbook_email as (

    select
        'playbook_email' as touchpoint_type,
        actions.sent_at as touched_at,
        recipients.customer_id,
        recipients.account_id,
        'email' as channel,
        'cxloop' as source,
        'playbook_action' as source_entity,
        actions.action_id as source_record_id

    from playbook_actions as actions
    left join (
        select email_normalized, min(customer_id) as customer_id, min(account_id) as account_id
        from identities
        where email_normalized is not null
        group by email_normalized
    ) as recipients
        on recipients.email_normalized = actions.recipient_email_normalized
    where actions.channel = 'email' and actions.status = 'sent' and actions.sent_at is not null

),

unioned as (

    select * from ticket_opened
    union all
    select * from agent_reply
    union all
    select * from internal_note
    union all
    select * from survey_response
    union all
    select * from opportunity_change
    union all
    select * from playbook_email

),

final as (

    select
        touchpoint_type || ':' || source || ':' || source_record_id as touchpoint_id,
        touchpoint_type,
        touched_at,
        cast(touched_at as date) as touched_date,
        customer_id,
        account_id,
        channel,
        source,
        source_entity,
        source_record_id

    from unioned
    where touched_at is not null

)

select * from final
