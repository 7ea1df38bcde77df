-- One row per callback task (written by the act flow's engine), owner in lower case.
with

source as (

    select * from {{ source('ops', 'callback_tasks') }}

),

renamed as (

    select
        task_id,
        action_id,
        account_id,
        customer_id,
        lower(trim(assignee_email)) as owner_email,
        coalesce(owner_source, 'csm') as owner_source,
        reason,
        status,
        created_at as opened_at,
        due_at,
        due_date

    from source

)

select * from renamed
