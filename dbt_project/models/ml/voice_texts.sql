-- Every piece of customer text the voice stage reads (docs/voice.md): one row per open-text
-- survey answer and per public ticket comment written by a customer (a Zendesk user who never
-- was an agent or admin) on a ticket of fct_tickets (not deleted). text_id is
-- '<text_kind>:<source_id>'. Survey answers carry their score; ticket comments carry none
-- (the sentiment model trained on survey text scores them).
with

responses as (

    select * from {{ ref('fct_survey_responses') }}
    where open_text is not null and trim(open_text) <> ''

),

comments as (

    select * from {{ ref('int_ticket_comments__unioned') }}
    where is_public and body is not null

),

users as (

    select * from {{ ref('stg_zendesk__users') }}

),

identity_map as (

    select * from {{ ref('customer_identity_map') }}
    where source = 'zendesk'

),

tickets as (

    select * from {{ ref('fct_tickets') }}

),

survey_texts as (

    select
        'survey_answer:' || response_id as text_id,
        'survey_answer' as text_kind,
        response_id as source_id,
        customer_id,
        account_id,
        responded_at as written_at,
        open_text as text,
        language as declared_language,
        nps_score,
        nps_category,
        survey_kind,
        touchpoint,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id

    from responses

),

comment_texts as (

    select
        'ticket_comment:' || comments.ticket_comment_id as text_id,
        'ticket_comment' as text_kind,
        comments.ticket_comment_id as source_id,
        identity_map.customer_id,
        coalesce(identity_map.account_id, tickets.account_id) as account_id,
        comments.commented_at as written_at,
        comments.body as text,
        users.language as declared_language,
        cast(null as integer) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_category,
        cast(null as {{ dbt.type_string() }}) as survey_kind,
        cast(null as {{ dbt.type_string() }}) as touchpoint,
        cast(comments.ticket_id as {{ dbt.type_string() }}) as ticket_id

    from comments
    inner join users
        on users.user_id = comments.author_id
        and not users.has_been_agent
    -- only tickets that count (fct_tickets: a deleted ticket's comments are not feedback)
    inner join tickets
        on tickets.ticket_id = comments.ticket_id
    left join identity_map
        on identity_map.source_record_id = cast(comments.author_id as {{ dbt.type_string() }})

),

final as (

    select * from survey_texts
    union all
    select * from comment_texts

)

select * from final
