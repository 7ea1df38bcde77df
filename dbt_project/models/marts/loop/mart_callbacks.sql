{#- Callback tasks per owner and week the task was opened: how many were opened, contacted,
    closed, closed within their SLA (due time) and escalated. Reads the act flow's task table
    and its append-only events (stg_ops__callback_*), not written by dbt. -#}
with

tasks as (

    select * from {{ ref('stg_ops__callback_tasks') }}

),

events as (

    select * from {{ ref('stg_ops__callback_events') }}

),

per_task as (

    select
        task_id,
        min(case when event_type = 'contacted' then occurred_at end) as first_contacted_at,
        min(case when event_type = 'closed' then occurred_at end) as closed_at,
        max(case when event_type = 'escalated' then escalation_level end) as max_escalation_level

    from events
    group by task_id

),

measured as (

    select
        tasks.owner_email,
        tasks.owner_source,
        cast({{ dbt.date_trunc('week', 'tasks.opened_at') }} as date) as week_start_date,
        tasks.opened_at,
        tasks.due_at,
        per_task.first_contacted_at,
        per_task.closed_at,
        per_task.max_escalation_level,
        per_task.closed_at is not null
            and tasks.due_at is not null
            and per_task.closed_at <= tasks.due_at as is_closed_within_sla

    from tasks
    left join per_task on per_task.task_id = tasks.task_id

),

final as (

    select
        {{ dbt.hash("owner_email || '|' || cast(week_start_date as " ~ dbt.type_string() ~ ")") }}
            as callback_week_id,
        owner_email,
        max(owner_source) as owner_source,
        week_start_date,
        count(*) as opened,
        sum(case when first_contacted_at is not null then 1 else 0 end) as contacted,
        sum(case when closed_at is not null then 1 else 0 end) as closed,
        sum(case when is_closed_within_sla then 1 else 0 end) as closed_within_sla,
        sum(case when max_escalation_level is not null then 1 else 0 end) as escalated,
        sum(case when max_escalation_level >= 2 then 1 else 0 end) as escalated_twice,
        {{ cx_round(
            '100.0 * sum(case when is_closed_within_sla then 1 else 0 end) / count(*)', 1
        ) }} as closed_within_sla_pct,
        {{ cx_round(
            'avg(' ~ dbt.datediff('opened_at', 'closed_at', 'minute') ~ ') / 60.0', 1
        ) }} as avg_hours_to_close

    from measured
    group by owner_email, week_start_date

)

select * from final
