-- Helpdesk features per account snapshot, point in time: only what had happened before the
-- end of the snapshot day (feature_cutoff_at) counts; a ticket solved later adds no resolution.
with

snapshots as (

    select account_id, snapshot_date, snapshot_id, feature_cutoff_at
    from {{ ref('int_account_snapshots__spined') }}

),

tickets as (

    select * from {{ ref('fct_tickets') }} where account_id is not null

),

ticket_events as (

    select * from {{ ref('int_ticket_events__classified') }}

),

ratings as (

    select * from {{ ref('stg_zendesk__satisfaction_ratings') }} where is_rated

),

ticket_windows as (

    select
        snapshots.snapshot_id,
        count(case when tickets.created_at >= {{ dbt.dateadd('day', -90, 'snapshots.feature_cutoff_at') }}
            then 1 end) as tickets_90d,
        count(case when tickets.created_at >= {{ dbt.dateadd('day', -90, 'snapshots.feature_cutoff_at') }}
            and tickets.priority in ('high', 'urgent') then 1 end) as tickets_high_priority_90d,
        avg(case when tickets.created_at >= {{ dbt.dateadd('day', -90, 'snapshots.feature_cutoff_at') }}
            and tickets.first_reply_at < snapshots.feature_cutoff_at
            then tickets.first_reply_time_calendar_minutes end) as avg_first_reply_minutes_90d,
        avg(case when tickets.solved_at >= {{ dbt.dateadd('day', -90, 'snapshots.feature_cutoff_at') }}
            and tickets.solved_at < snapshots.feature_cutoff_at
            then tickets.full_resolution_calendar_minutes end) as avg_resolution_minutes_90d,
        max(tickets.created_at) as last_ticket_at

    from snapshots
    inner join tickets
        on tickets.account_id = snapshots.account_id
        and tickets.created_at < snapshots.feature_cutoff_at
    group by snapshots.snapshot_id

),

reopen_windows as (

    select
        snapshots.snapshot_id,
        count(*) as reopens_90d

    from snapshots
    inner join tickets
        on tickets.account_id = snapshots.account_id
        and tickets.created_at < snapshots.feature_cutoff_at
    inner join ticket_events
        on ticket_events.ticket_id = tickets.ticket_id
        and ticket_events.is_reopen
        and ticket_events.event_at < snapshots.feature_cutoff_at
        and ticket_events.event_at >= {{ dbt.dateadd('day', -90, 'snapshots.feature_cutoff_at') }}
    group by snapshots.snapshot_id

),

rating_windows as (

    select
        snapshots.snapshot_id,
        count(case when ratings.score = 'bad' then 1 end) as bad_ratings_180d

    from snapshots
    inner join tickets
        on tickets.account_id = snapshots.account_id
        and tickets.created_at < snapshots.feature_cutoff_at
    inner join ratings
        on ratings.ticket_id = tickets.ticket_id
        and coalesce(ratings.updated_at, ratings.created_at) < snapshots.feature_cutoff_at
        and coalesce(ratings.updated_at, ratings.created_at)
            >= {{ dbt.dateadd('day', -180, 'snapshots.feature_cutoff_at') }}
    group by snapshots.snapshot_id

),

final as (

    select
        snapshots.snapshot_id,
        coalesce(ticket_windows.tickets_90d, 0) as tickets_90d,
        coalesce(ticket_windows.tickets_high_priority_90d, 0) as tickets_high_priority_90d,
        ticket_windows.avg_first_reply_minutes_90d,
        ticket_windows.avg_resolution_minutes_90d,
        coalesce(reopen_windows.reopens_90d, 0) as reopens_90d,
        coalesce(rating_windows.bad_ratings_180d, 0) as bad_ratings_180d,
        ticket_windows.last_ticket_at

    from snapshots
    left join ticket_windows
        on ticket_windows.snapshot_id = snapshots.snapshot_id
    left join reopen_windows
        on reopen_windows.snapshot_id = snapshots.snapshot_id
    left join rating_windows
        on rating_windows.snapshot_id = snapshots.snapshot_id

)

select * from final
