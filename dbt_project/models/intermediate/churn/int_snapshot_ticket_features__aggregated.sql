{{ config(
    materialized='incremental',
    unique_key='snapshot_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ cx_drop_gone_keys('snapshot_id', ref('int_account_snapshots__spined')) }}",
) }}
-- Helpdesk features per account snapshot, point in time: only what had happened before the
-- end of the snapshot day (feature_cutoff_at) counts; a ticket solved later adds no resolution.
-- Incremental by snapshot (docs/decisions.md "Incremental models"): a snapshot's features
-- depend only on its account's tickets created before its cutoff, with their reopens and
-- ratings, so a run recomputes the snapshots whose fingerprint of those rows (input_hash)
-- changed. A reopen or a rating counts from its ticket's creation on: a change to one
-- recomputes every snapshot that sees the ticket, a few more than the value can change in.
with

spine as (

    select account_id, snapshot_date, snapshot_id, feature_cutoff_at
    from {{ ref('int_account_snapshots__spined') }}

),

account_tickets as (

    select * from {{ ref('fct_tickets') }} where account_id is not null

),

-- reopens and ratings by the account of their ticket
account_reopens as (

    select
        account_tickets.account_id,
        account_tickets.created_at as ticket_created_at,
        ticket_events.ticket_id,
        ticket_events.event_at
    from {{ ref('int_ticket_events__classified') }} as ticket_events
    inner join account_tickets
        on account_tickets.ticket_id = ticket_events.ticket_id
    where ticket_events.is_reopen

),

account_ratings as (

    select
        account_tickets.account_id,
        account_tickets.created_at as ticket_created_at,
        ratings.ticket_id,
        ratings.score,
        ratings.created_at,
        ratings.updated_at
    from {{ ref('stg_zendesk__satisfaction_ratings') }} as ratings
    inner join account_tickets
        on account_tickets.ticket_id = ratings.ticket_id
    where ratings.is_rated

),

input_hashes as (

    {{ cx_point_in_time_hashes('spine', 'snapshot_id', 'account_id', 'feature_cutoff_at', [
        ('account_tickets', 'created_at', 'before', [
            'ticket_id', 'created_at', 'priority', 'first_reply_at',
            'first_reply_time_calendar_minutes', 'solved_at', 'full_resolution_calendar_minutes',
        ]),
        ('account_reopens', 'ticket_created_at', 'before', ['ticket_id', 'event_at']),
        ('account_ratings', 'ticket_created_at', 'before',
            ['ticket_id', 'score', 'created_at', 'updated_at']),
    ]) }}

),

changed_snapshots as (

    {{ cx_changed_keys('snapshot_id', 'input_hashes') }}

),

snapshots as (

    select spine.*, changed_snapshots.input_hash
    from spine
    inner join changed_snapshots
        on changed_snapshots.snapshot_id = spine.snapshot_id

),

tickets as (

    select * from account_tickets
    where account_id in (select account_id from snapshots)

),

ticket_events as (

    select ticket_id, event_at, true as is_reopen from account_reopens
    where account_id in (select account_id from snapshots)

),

ratings as (

    select ticket_id, score, created_at, updated_at from account_ratings
    where account_id in (select account_id from snapshots)

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
        ticket_windows.last_ticket_at,
        snapshots.input_hash

    from snapshots
    left join ticket_windows
        on ticket_windows.snapshot_id = snapshots.snapshot_id
    left join reopen_windows
        on reopen_windows.snapshot_id = snapshots.snapshot_id
    left join rating_windows
        on rating_windows.snapshot_id = snapshots.snapshot_id

)

select * from final
