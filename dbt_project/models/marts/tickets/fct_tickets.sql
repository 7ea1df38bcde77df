with

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

ticket_metrics as (

    select * from {{ ref('int_tickets__measured') }}

),

ratings as (

    select * from {{ ref('stg_zendesk__satisfaction_ratings') }} where is_rated

),

accounts as (

    select * from {{ ref('int_accounts__resolved') }} where zendesk_organization_id is not null

),

requesters as (

    select * from {{ ref('int_customers__resolved') }} where source = 'zendesk'

),

latest_rating as (

    select
        ticket_id,
        score,
        row_number() over (
            partition by ticket_id order by updated_at desc, satisfaction_rating_id desc
        ) as rating_rank

    from ratings

),

final as (

    select
        tickets.ticket_id,
        coalesce(accounts.account_id, requesters.account_id) as account_id,
        requesters.customer_id,
        tickets.requester_id as zendesk_requester_id,
        tickets.organization_id as zendesk_organization_id,
        tickets.created_at,
        cast(tickets.created_at as date) as created_date,
        ticket_metrics.solved_at,
        tickets.status,
        tickets.priority,
        tickets.channel,
        ticket_metrics.first_reply_at,
        ticket_metrics.first_reply_time_calendar_minutes,
        ticket_metrics.full_resolution_calendar_minutes,
        ticket_metrics.count_agent_replies,
        ticket_metrics.count_reopens,
        ticket_metrics.is_one_touch_resolution,
        case
            when latest_rating.score in ('good', 'bad') then latest_rating.score
            when tickets.satisfaction_rating_score in ('good', 'bad')
                then tickets.satisfaction_rating_score
        end as satisfaction_score,
        tickets.is_open

    from tickets
    left join ticket_metrics
        on ticket_metrics.ticket_id = tickets.ticket_id
    left join accounts
        on accounts.zendesk_organization_id = tickets.organization_id
    left join requesters
        on requesters.source_record_id = cast(tickets.requester_id as varchar)
    left join latest_rating
        on latest_rating.ticket_id = tickets.ticket_id
        and latest_rating.rating_rank = 1

)

select * from final
