{{ config(
    materialized='incremental',
    unique_key='snapshot_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ cx_drop_gone_keys('snapshot_id', ref('int_account_snapshots__spined')) }}",
) }}
-- Survey features per account snapshot, from responses recorded before the end of the
-- snapshot day only.
-- Incremental by snapshot (docs/decisions.md "Incremental models"): a snapshot's features
-- depend only on its account's responses before its cutoff and contacts created by then, so
-- a run recomputes the snapshots whose fingerprint of those rows (input_hash) changed.
with

spine as (

    select account_id, snapshot_date, snapshot_id, feature_cutoff_at
    from {{ ref('int_account_snapshots__spined') }}

),

account_responses as (

    select * from {{ ref('fct_survey_responses') }}
    where account_id is not null and responded_at is not null

),

account_contacts as (

    select * from {{ ref('int_crm_contacts__unioned') }}
    where account_id is not null

),

input_hashes as (

    {{ cx_point_in_time_hashes('spine', 'snapshot_id', 'account_id', 'feature_cutoff_at', [
        ('account_responses', 'responded_at', 'before',
            ['response_id', 'customer_id', 'responded_at', 'nps_score', 'csat_score']),
        ('account_contacts', 'created_at', 'at_or_before', ['created_at']),
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

responses as (

    select * from account_responses
    where account_id in (select account_id from snapshots)

),

contacts as (

    select * from account_contacts
    where account_id in (select account_id from snapshots)

),

responses_before as (

    select
        snapshots.snapshot_id,
        snapshots.feature_cutoff_at,
        responses.customer_id,
        responses.response_id,
        responses.responded_at,
        responses.nps_score,
        responses.csat_score

    from snapshots
    inner join responses
        on responses.account_id = snapshots.account_id
        and responses.responded_at < snapshots.feature_cutoff_at

),

windows as (

    select
        snapshot_id,
        count(case when csat_score is not null
            and responded_at >= {{ dbt.dateadd('day', -180, 'feature_cutoff_at') }} then 1 end)
            as csat_responses_180d,
        avg(case when responded_at >= {{ dbt.dateadd('day', -180, 'feature_cutoff_at') }}
            then 1.0 * csat_score end) as csat_avg_180d,
        count(case when responded_at >= {{ dbt.dateadd('day', -365, 'feature_cutoff_at') }} then 1 end)
            as survey_responses_365d,
        count(distinct case when responded_at >= {{ dbt.dateadd('day', -365, 'feature_cutoff_at') }}
            then customer_id end) as respondents_365d,
        max(responded_at) as last_response_at

    from responses_before
    group by snapshot_id

),

nps_ranked as (

    select
        snapshot_id,
        nps_score,
        row_number() over (
            partition by snapshot_id order by responded_at desc, response_id desc
        ) as recency_rank

    from responses_before
    where nps_score is not null

),

nps_history as (

    select
        snapshot_id,
        max(case when recency_rank = 1 then nps_score end) as last_nps,
        max(case when recency_rank = 1 then nps_score end)
            - max(case when recency_rank = 2 then nps_score end) as nps_change

    from nps_ranked
    where recency_rank <= 2
    group by snapshot_id

),

contact_counts as (

    select
        snapshots.snapshot_id,
        count(*) as contacts

    from snapshots
    inner join contacts
        on contacts.account_id = snapshots.account_id
        and coalesce(contacts.created_at, snapshots.feature_cutoff_at) <= snapshots.feature_cutoff_at
    group by snapshots.snapshot_id

),

final as (

    select
        snapshots.snapshot_id,
        coalesce(windows.csat_responses_180d, 0) as csat_responses_180d,
        windows.csat_avg_180d,
        nps_history.last_nps,
        nps_history.nps_change,
        coalesce(windows.survey_responses_365d, 0) as survey_responses_365d,
        1.0 * coalesce(windows.respondents_365d, 0) / nullif(contact_counts.contacts, 0)
            as survey_response_rate_365d,
        windows.last_response_at,
        snapshots.input_hash

    from snapshots
    left join windows
        on windows.snapshot_id = snapshots.snapshot_id
    left join nps_history
        on nps_history.snapshot_id = snapshots.snapshot_id
    left join contact_counts
        on contact_counts.snapshot_id = snapshots.snapshot_id

)

select * from final
