-- One row per playbook action (the act flow's ledger, ops.playbook_actions), with the survey
-- response it follows up (from the payload) and the recipient's address as identity compares it.
with

source as (

    select * from {{ source('ops', 'playbook_actions') }}

),

renamed as (

    select
        action_id,
        playbook,
        action_key,
        channel,
        recipient,
        lower(trim(recipient)) as recipient_email_normalized,
        status,
        attempts,
        provider_message_id,
        error,
        {{ cx_json_get_text('payload', 'response_id') }} as response_id,
        planned_at,
        sent_at,
        updated_at

    from source

)

select * from renamed
