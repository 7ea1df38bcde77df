-- Ticket KPIs by creation day and segment, in the terms of fivetran's dbt_zendesk: first reply
-- and full resolution time in calendar and business minutes, reopen, one-touch and SLA breach
-- rates, ticket CSAT (good / rated). Rates are percentages; null when their base is zero.
with

tickets as (

    select * from {{ ref('fct_tickets') }}

),

ticket_metrics as (

    select * from {{ ref('int_tickets__measured') }}

),

-- the account's segments as the CRM records them (dim_accounts' region, plan and csm_user_id);
-- not dim_accounts itself, which carries the churn scores: these KPIs are built with the
-- tickets, not after every scoring run
accounts as (

    select * from {{ ref('int_accounts__resolved') }}

),

enriched as (

    select
        tickets.ticket_id,
        tickets.created_date as date_day,
        tickets.priority,
        tickets.channel,
        accounts.region,
        accounts.plan,
        accounts.owner_user_id as csm_user_id,
        tickets.first_reply_time_calendar_minutes,
        ticket_metrics.first_reply_time_business_minutes,
        tickets.full_resolution_calendar_minutes,
        ticket_metrics.full_resolution_business_minutes,
        tickets.solved_at is not null as is_solved,
        tickets.count_reopens,
        tickets.is_one_touch_resolution,
        ticket_metrics.is_sla_breached,
        tickets.satisfaction_score

    from tickets
    left join ticket_metrics
        on ticket_metrics.ticket_id = tickets.ticket_id
    left join accounts
        on accounts.account_id = tickets.account_id

),

{%- set segment_columns = {
    'priority': 'priority',
    'channel': 'channel',
    'region': 'region',
    'plan': 'plan',
    'csm': 'csm_user_id',
} %}

segmented as (

    select 'all' as segment_type, 'all' as segment_value, * from enriched
    {%- for segment_type, column in segment_columns.items() %}
    union all
    select
        '{{ segment_type }}', coalesce(cast({{ column }} as {{ dbt.type_string() }}), 'unknown'), *
    from enriched
    {%- endfor %}

),

counted as (

    select
        date_day,
        segment_type,
        segment_value,
        count(*) as tickets,
        count(case when is_solved then 1 end) as solved_tickets,
        count(first_reply_time_calendar_minutes) as replied_tickets,
        avg(first_reply_time_calendar_minutes) as avg_first_reply_time_calendar_minutes,
        avg(first_reply_time_business_minutes) as avg_first_reply_time_business_minutes,
        {{ cx_median('first_reply_time_calendar_minutes') }} as median_first_reply_time_calendar_minutes,
        {{ cx_median('first_reply_time_business_minutes') }} as median_first_reply_time_business_minutes,
        avg(full_resolution_calendar_minutes) as avg_full_resolution_calendar_minutes,
        avg(full_resolution_business_minutes) as avg_full_resolution_business_minutes,
        {{ cx_median('full_resolution_calendar_minutes') }} as median_full_resolution_calendar_minutes,
        {{ cx_median('full_resolution_business_minutes') }} as median_full_resolution_business_minutes,
        sum(count_reopens) as count_reopens,
        count(case when is_solved and count_reopens > 0 then 1 end) as reopened_tickets,
        count(case when is_one_touch_resolution then 1 end) as one_touch_tickets,
        count(is_sla_breached) as sla_tickets,
        count(case when is_sla_breached then 1 end) as sla_breached_tickets,
        count(satisfaction_score) as rated_tickets,
        count(case when satisfaction_score = 'good' then 1 end) as good_rated_tickets

    from segmented
    group by date_day, segment_type, segment_value

),

final as (

    select
        date_day,
        segment_type,
        segment_value,
        tickets,
        solved_tickets,
        replied_tickets,
        {{ cx_round('avg_first_reply_time_calendar_minutes', 2) }} as avg_first_reply_time_calendar_minutes,
        {{ cx_round('avg_first_reply_time_business_minutes', 2) }} as avg_first_reply_time_business_minutes,
        median_first_reply_time_calendar_minutes,
        median_first_reply_time_business_minutes,
        {{ cx_round('avg_full_resolution_calendar_minutes', 2) }} as avg_full_resolution_calendar_minutes,
        {{ cx_round('avg_full_resolution_business_minutes', 2) }} as avg_full_resolution_business_minutes,
        median_full_resolution_calendar_minutes,
        median_full_resolution_business_minutes,
        count_reopens,
        reopened_tickets,
        {{ cx_round(percent_of('reopened_tickets', 'solved_tickets'), 2) }} as reopen_rate,
        one_touch_tickets,
        {{ cx_round(percent_of('one_touch_tickets', 'solved_tickets'), 2) }} as one_touch_resolution_rate,
        sla_tickets,
        sla_breached_tickets,
        {{ cx_round(percent_of('sla_breached_tickets', 'sla_tickets'), 2) }} as sla_breach_rate,
        rated_tickets,
        good_rated_tickets,
        {{ cx_round(percent_of('good_rated_tickets', 'rated_tickets'), 2) }} as ticket_csat

    from counted

)

select * from final
