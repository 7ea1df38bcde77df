-- mart_callbacks: each count is a part of the one before it (closed within SLA <= closed <=
-- opened; contacted, escalated <= opened), and every task is counted once (count parity with
-- stg_ops__callback_tasks). Returns the rows that break it.
with

weeks as (

    select * from {{ ref('mart_callbacks') }}

),

broken_weeks as (

    select callback_week_id as problem
    from weeks
    where closed_within_sla > closed
        or closed > opened
        or contacted > opened
        or escalated > opened
        or escalated_twice > escalated

),

parity as (

    select 'opened ' || cast((select sum(opened) from weeks) as {{ dbt.type_string() }})
        || ' <> tasks ' || cast(count(*) as {{ dbt.type_string() }}) as problem
    from {{ ref('stg_ops__callback_tasks') }}
    having count(*) <> coalesce((select sum(opened) from weeks), 0)

)

select problem from broken_weeks
union all
select problem from parity
