-- One row per ticket activity, classified: each comment (int_ticket_comments__unioned, from
-- either export) as agent reply or internal note, each status change as solve or reopen.
-- A reply = a public comment by an agent/admin (also one since downgraded or deleted) that is
-- not the ticket's opening comment. An internal note = a comment with public false: never a
-- reply, still a touch. A reopen = a status change from solved back to new/open/pending/hold.
with

comments as (

    select * from {{ ref('int_ticket_comments__unioned') }}

),

-- status changes only: the audits' other field changes (priority, tags, ...) are no activity
-- anything downstream reads (28% of the child events at scale 10)
child_events as (

    select * from {{ ref('stg_zendesk__ticket_child_events') }}
    where not is_comment and status is not null

),

agents as (

    select user_id from {{ ref('stg_zendesk__users') }} where has_been_agent

),

comments_ordered as (

    select
        *,
        row_number() over (
            partition by ticket_id order by commented_at, comment_id, ticket_comment_id
        ) as comment_number

    from comments

),

comment_activities as (

    select
        'comment-' || comments_ordered.ticket_comment_id as ticket_activity_id,
        comments_ordered.ticket_comment_id,
        comments_ordered.ticket_id,
        comments_ordered.commented_at as event_at,
        true as is_comment,
        comments_ordered.author_id as comment_author_id,
        comments_ordered.comment_type,
        comments_ordered.is_public as is_public_comment,
        cast(null as {{ dbt.type_string() }}) as status,
        cast(null as {{ dbt.type_string() }}) as previous_status,
        coalesce(
            comments_ordered.is_public
            and agents.user_id is not null
            and comments_ordered.comment_number > 1,
            false
        ) as is_agent_reply,
        coalesce(not comments_ordered.is_public, false) as is_internal_note,
        false as is_solve,
        false as is_reopen

    from comments_ordered
    left join agents
        on agents.user_id = comments_ordered.author_id

),

status_activities as (

    select
        'event-' || ticket_child_event_id as ticket_activity_id,
        cast(null as {{ dbt.type_string() }}) as ticket_comment_id,
        ticket_id,
        event_at,
        false as is_comment,
        cast(null as {{ dbt.type_bigint() }}) as comment_author_id,
        cast(null as {{ dbt.type_string() }}) as comment_type,
        cast(null as boolean) as is_public_comment,
        status,
        previous_status,
        false as is_agent_reply,
        false as is_internal_note,
        coalesce(status = 'solved' and coalesce(previous_status, '') <> 'solved', false)
            as is_solve,
        coalesce(
            previous_status = 'solved' and status in ('new', 'open', 'pending', 'hold'),
            false
        ) as is_reopen

    from child_events

),

final as (

    select * from comment_activities
    union all
    select * from status_activities

)

select * from final
