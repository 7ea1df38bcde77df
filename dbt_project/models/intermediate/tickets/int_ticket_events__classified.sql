-- One row per ticket child event, classified: agent reply, solve, reopen.
-- A reply = a public comment by an agent/admin that is not the ticket's opening comment.
-- A reopen = a status change from solved back to an unsolved status (new/open/pending/hold).
with

child_events as (

    select * from {{ ref('stg_zendesk__ticket_child_events') }}

),

agents as (

    select user_id from {{ ref('stg_zendesk__users') }} where is_agent

),

comments_ordered as (

    select
        ticket_child_event_id,
        row_number() over (
            partition by ticket_id order by event_at, ticket_event_id, child_index
        ) as comment_number

    from child_events
    where is_comment

),

final as (

    select
        child_events.ticket_child_event_id,
        child_events.ticket_event_id,
        child_events.ticket_id,
        child_events.event_at,
        child_events.is_comment,
        child_events.comment_author_id,
        child_events.status,
        child_events.previous_status,
        coalesce(
            child_events.is_comment
            and child_events.is_public_comment
            and agents.user_id is not null
            and comments_ordered.comment_number > 1,
            false
        ) as is_agent_reply,
        coalesce(
            child_events.status = 'solved' and coalesce(child_events.previous_status, '') <> 'solved',
            false
        ) as is_solve,
        coalesce(
            child_events.previous_status = 'solved'
            and child_events.status in ('new', 'open', 'pending', 'hold'),
            false
        ) as is_reopen

    from child_events
    left join agents
        on agents.user_id = child_events.comment_author_id
    left join comments_ordered
        on comments_ordered.ticket_child_event_id = child_events.ticket_child_event_id

)

select * from final
