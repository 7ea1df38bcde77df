{%- set present = source_column_names('sendgrid', 'events') -%}
with

source as (

    select * from {{ source('sendgrid', 'events') }}

),

renamed as (

    select
        {{ blank_to_null('sg_event_id') }} as sg_event_id,
        {{ blank_to_null(column_or_null(present, 'sg_message_id')) }} as sg_message_id,
        {{ blank_to_null(column_or_null(present, 'cxloop_action_id')) }} as action_id,
        lower({{ blank_to_null('event') }}) as event_type,
        {{ normalize_email('email') }} as email,
        {{ blank_to_null(column_or_null(present, 'category')) }} as category_raw,
        lower({{ blank_to_null(column_or_null(present, 'type')) }}) as bounce_type,
        {{ blank_to_null(column_or_null(present, 'reason')) }} as reason,
        {{ blank_to_null(column_or_null(present, 'status')) }} as smtp_status,
        {{ blank_to_null(column_or_null(present, 'bounce_classification')) }} as bounce_classification,
        {{ blank_to_null(column_or_null(present, 'response')) }} as smtp_response,
        {{ to_integer(column_or_null(present, 'asm_group_id')) }} as asm_group_id,
        {{ blank_to_null(column_or_null(present, 'url')) }} as url,
        {{ cx_epoch_seconds_to_timestamp(to_integer('"timestamp"')) }} as event_at,
        _loaded_at,
        _row_number

    from source

),

classified as (

    select
        *,
        -- SendGrid sends category as a string or an array of strings
        {{ cx_string_or_json_array('category_raw') }} as categories,
        -- the prefix before '.filter' is the X-Message-Id of the send
        split_part(sg_message_id, '.filter', 1) as provider_message_id,
        event_type in ('unsubscribe', 'group_unsubscribe', 'spamreport')
            or (event_type = 'bounce' and coalesce(bounce_type, 'bounce') = 'bounce')
            as is_suppressing,
        event_type = 'delivered' as is_delivered

    from renamed

),

ranked as (

    select
        *,
        row_number() over (
            partition by sg_event_id order by _loaded_at, _row_number
        ) as delivery_rank

    from classified

),

final as (

    select
        sg_event_id,
        sg_message_id,
        provider_message_id,
        action_id,
        event_type,
        email,
        categories,
        bounce_type,
        reason,
        smtp_status,
        bounce_classification,
        smtp_response,
        asm_group_id,
        url,
        is_suppressing,
        is_delivered,
        event_at,
        cast(event_at as date) as event_date,
        _loaded_at

    from ranked
    where delivery_rank = 1

)

select * from final
