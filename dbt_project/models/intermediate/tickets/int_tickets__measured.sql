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
            {{ business_minutes('calendar_metrics.created_at', 'calendar_metrics.first_reply_at') }}
        end as first_reply_time_business_minutes,
        case when solved_at is not null then
            {{ business_minutes('calendar_metrics.created_at', 'calendar_metrics.solved_at') }}
        end as full_resolution_business_minutes,
        -- an unanswered ticket is measured up to the as-of time, to see whether it breached
        case when first_reply_at is null then
            {{ business_minutes('calendar_metrics.created_at', 'as_of.as_of_at') }}
        end as business_minutes_waiting_for_reply,
        case coalesce(calendar_metrics.priority, 'normal')
            {%- for priority, minutes in sla.items() %}
            when '{{ priority }}' then {{ minutes | int }}
            {%- endfor %}
        end as sla_first_reply_target_business_minutes

    from calendar_metrics
    cross join as_of

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
