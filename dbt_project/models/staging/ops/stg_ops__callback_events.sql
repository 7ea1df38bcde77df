-- One row per state change of a callback task (ops.callback_events, appended by act and the CLI).
with

source as (

    select * from {{ source('ops', 'callback_events') }}

),

renamed as (

    select
        event_id,
        task_id,
        event_type,
        status,
        occurred_at,
        source as event_source,
        actor,
        outcome,
        root_cause,
        escalation_level,
        lower(trim(escalated_to)) as escalated_to_email,
        note,
        recorded_at

    from source

)

select * from renamed
