with

responses as (

    select * from {{ ref('int_survey_responses__unioned') }} where is_counted

),

identities as (

    select * from {{ ref('int_customers__resolved') }}

),

final as (

    select
        responses.response_id,
        responses.survey_id,
        responses.survey_kind,
        responses.touchpoint,
        responses.channel,
        identities.customer_id,
        identities.account_id,
        responses.ticket_id,
        responses.nps_score,
        responses.nps_category,
        responses.csat_score,
        responses.ces_score,
        responses.open_text,
        responses.language,
        responses.respondent_email,
        responses.responded_at,
        cast(responses.responded_at as date) as responded_date,
        responses.time_zone as respondent_time_zone,
        responses.source

    from responses
    left join identities
        on identities.source = responses.source
        and identities.source_record_id = responses.response_id

)

select * from final
