-- One row per ticket: reply, resolution and reopen metrics from its audit events.
-- solved_at = the last solve, and only while the ticket is solved or closed.
with

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

classified_events as (

    select * from {{ ref('int_ticket_events__classified') }}

),

per_ticket as (

    select
        ticket_id,
        min(case when is_agent_reply then event_at end) as first_reply_at,
        max(case when is_solve then event_at end) as last_solved_at,
        count(case when is_agent_reply then 1 end) as count_agent_replies,
        count(case when is_reopen then 1 end) as count_reopens

    from classified_events
    group by ticket_id

),

final as (

    select
        tickets.ticket_id,
        tickets.created_at,
        per_ticket.first_reply_at,
        case when tickets.status in ('solved', 'closed') then per_ticket.last_solved_at end
            as solved_at,
        {{ dbt.datediff('tickets.created_at', 'per_ticket.first_reply_at', 'minute') }}
            as first_reply_time_calendar_minutes,
        case when tickets.status in ('solved', 'closed') then
            {{ dbt.datediff('tickets.created_at', 'per_ticket.last_solved_at', 'minute') }}
        end as full_resolution_calendar_minutes,
        coalesce(per_ticket.count_agent_replies, 0) as count_agent_replies,
        coalesce(per_ticket.count_reopens, 0) as count_reopens,
        tickets.status in ('solved', 'closed')
            and per_ticket.last_solved_at is not null
            and coalesce(per_ticket.count_agent_replies, 0) = 1
            and coalesce(per_ticket.count_reopens, 0) = 0 as is_one_touch_resolution

    from tickets
    left join per_ticket
        on per_ticket.ticket_id = tickets.ticket_id

)

select * from final
