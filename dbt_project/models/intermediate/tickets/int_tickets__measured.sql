-- One row per ticket: reply, resolution and reopen metrics from its audit events, in calendar
-- and business minutes (int_business_days__expanded), and the first-reply SLA by priority.
-- solved_at = the last solve, and only while the ticket is solved or closed.
{%- set sla = var('sla_first_reply_business_minutes') %}
with

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

classified_events as (

    select * from {{ ref('int_ticket_events__classified') }}

),

business_days as (

    select * from {{ ref('int_business_days__expanded') }}

),

calendar_bounds as (

    select
        min(local_date) as first_date,
        max(local_date) as last_date,
        coalesce(sum({{ dbt.datediff('open_at', 'close_at', 'minute') }}), 0) as total_minutes

    from business_days

),

-- every local date from the first working day to the last, with its working window (none on a
-- day off) and the business minutes of the working days before it (macro business_minutes)
business_calendar as (

    select
        cast(spine.day_start as date) as local_date,
        business_days.open_at,
        business_days.close_at,
        coalesce(sum({{ dbt.datediff('business_days.open_at', 'business_days.close_at', 'minute') }}) over (
            order by spine.day_start rows between unbounded preceding and 1 preceding
        ), 0) as minutes_before

    from calendar_bounds
    cross join {{ cx_series('calendar_bounds.first_date', 'calendar_bounds.last_date', 'day') }} as spine(day_start)
    left join business_days
        on business_days.local_date = cast(spine.day_start as date)

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

calendar_metrics as (

    select
        tickets.ticket_id,
        tickets.priority,
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

),

business_metrics as (

    select
        calendar_metrics.*,
        case when first_reply_at is not null then
            {{ business_minutes('calendar_metrics.created_at', 'calendar_metrics.first_reply_at', 'created_day', 'reply_day', 'calendar_bounds') }}
        end as first_reply_time_business_minutes,
        case when solved_at is not null then
            {{ business_minutes('calendar_metrics.created_at', 'calendar_metrics.solved_at', 'created_day', 'solved_day', 'calendar_bounds') }}
        end as full_resolution_business_minutes,
        -- an unanswered ticket is measured up to the as-of time, to see whether it breached
        case when first_reply_at is null then
            {{ business_minutes('calendar_metrics.created_at', 'as_of.as_of_at', 'created_day', 'as_of_day', 'calendar_bounds') }}
        end as business_minutes_waiting_for_reply,
        case coalesce(calendar_metrics.priority, 'normal')
            {%- for priority, minutes in sla.items() %}
            when '{{ priority }}' then {{ minutes | int }}
            {%- endfor %}
        end as sla_first_reply_target_business_minutes

    from calendar_metrics
    cross join as_of
    cross join calendar_bounds
    left join business_calendar as created_day
        on created_day.local_date = {{ business_local_date('calendar_metrics.created_at') }}
    left join business_calendar as reply_day
        on reply_day.local_date = {{ business_local_date('calendar_metrics.first_reply_at') }}
    left join business_calendar as solved_day
        on solved_day.local_date = {{ business_local_date('calendar_metrics.solved_at') }}
    left join business_calendar as as_of_day
        on as_of_day.local_date = {{ business_local_date('as_of.as_of_at') }}

),

final as (

    select
        ticket_id,
        created_at,
        first_reply_at,
        solved_at,
        first_reply_time_calendar_minutes,
        first_reply_time_business_minutes,
        full_resolution_calendar_minutes,
        full_resolution_business_minutes,
        count_agent_replies,
        count_reopens,
        is_one_touch_resolution,
        sla_first_reply_target_business_minutes,
        case
            when sla_first_reply_target_business_minutes is null then null
            when first_reply_at is not null
                then first_reply_time_business_minutes > sla_first_reply_target_business_minutes
            else business_minutes_waiting_for_reply > sla_first_reply_target_business_minutes
        end as is_sla_breached

    from business_metrics

)

select * from final
