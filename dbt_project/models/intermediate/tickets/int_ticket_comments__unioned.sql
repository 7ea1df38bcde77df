-- One row per ticket comment, from whichever the company exports: the per-ticket comments
-- export, the comment child events of the ticket events export (include=comment_events), or
-- both. A comment in both is kept once: first by comment id (a comment child event's id is
-- the comment's id), then by audit (an audit holds at most one comment), so a comment counts
-- once even when one side lacks its id. The per-ticket export wins: it shows the comment as it
-- is now (a public comment an agent later made private is private there).
with

ticket_comments as (

    select * from {{ ref('stg_zendesk__ticket_comments') }}

),

child_events as (

    select * from {{ ref('stg_zendesk__ticket_child_events') }} where is_comment

),

unioned as (

    select
        cast(comment_id as {{ dbt.type_string() }}) as ticket_comment_id,
        ticket_id,
        comment_id,
        audit_id,
        author_id,
        comment_type,
        is_public,
        body,
        created_at as commented_at,
        'ticket_comments' as comment_source,
        1 as source_rank

    from ticket_comments

    union all

    select
        coalesce(
            cast(child_event_id as {{ dbt.type_string() }}),
            'event-' || ticket_child_event_id
        ) as ticket_comment_id,
        ticket_id,
        child_event_id as comment_id,
        ticket_event_id as audit_id,
        comment_author_id as author_id,
        comment_type,
        is_public_comment as is_public,
        comment_body as body,
        event_at as commented_at,
        'ticket_events' as comment_source,
        2 as source_rank

    from child_events

),

by_comment_id as (

    select
        *,
        case when comment_id is null then 1 else row_number() over (
            partition by comment_id order by source_rank, ticket_id
        ) end as comment_id_rank

    from unioned

),

by_audit as (

    select
        *,
        case when audit_id is null then 1 else row_number() over (
            partition by ticket_id, audit_id order by source_rank, comment_id
        ) end as audit_rank

    from by_comment_id
    where comment_id_rank = 1

),

final as (

    select
        ticket_comment_id,
        ticket_id,
        comment_id,
        audit_id,
        author_id,
        comment_type,
        is_public,
        body,
        commented_at,
        comment_source

    from by_audit
    where audit_rank = 1

)

select * from final
