-- What moves NPS and churn (docs/metrics.md "Drivers"): one row per driver.
--   topic: NPS answers with open text that name the topic (ml.text_topics, keyword or learned)
--          against the other NPS answers with open text;
--   touchpoint: NPS answers whose customer had that kind of touch (fct_touchpoints) in the
--          driver_window_days before answering, against the other NPS answers;
--   ticket_experience: NPS answers whose customer had a ticket created in the window with that
--          experience (first reply over the SLA target, reopened, CSAT bad / good), against the
--          other NPS answers whose customer had a ticket in the window.
-- nps_impact = nps_with - nps_without, with a 95% interval from the variance of a difference
-- of two independent NPS estimates (macro nps_difference_variance); churn_effect = churned share of the accounts exposed minus
-- that of the others in the same population, in percentage points (an association).
with

responses as (

    select response_id, customer_id, account_id, responded_at, nps_category
    from {{ ref('fct_survey_responses') }}
    where nps_category is not null

),

texts as (

    select text_id, text_kind, source_id from {{ ref('voice_texts') }}

),

text_topics as (

    select distinct text_id, topic, topic_source from {{ ref('stg_ml__text_topics') }}

),

accounts as (

    select account_id, is_churned from {{ ref('dim_accounts') }}

),

tickets as (

    select
        fct_tickets.ticket_id,
        fct_tickets.customer_id,
        fct_tickets.created_at,
        fct_tickets.count_reopens,
        fct_tickets.satisfaction_score,
        measured.is_sla_breached

    from {{ ref('fct_tickets') }} as fct_tickets
    left join {{ ref('int_tickets__measured') }} as measured
        on measured.ticket_id = fct_tickets.ticket_id

),

touchpoints as (

    select touchpoint_type, customer_id, account_id, touched_at
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type <> 'survey_response'

),

-- topics -------------------------------------------------------------------------------------
topic_list as (

    select
        topic as driver,
        count(distinct text_id) as n_mentions,
        case
            when count(distinct topic_source) > 1 then 'keyword+learned'
            else min(topic_source)
        end as method

    from text_topics
    group by topic

),

open_answers as (

    select responses.*
    from responses
    inner join texts
        on texts.text_kind = 'survey_answer'
        and texts.source_id = responses.response_id

),

topic_answers as (

    select distinct text_topics.topic, texts.source_id as response_id
    from text_topics
    inner join texts
        on texts.text_id = text_topics.text_id
        and texts.text_kind = 'survey_answer'

),

topic_population as (

    select
        'topic' as driver_kind,
        topic_list.driver,
        topic_list.method,
        open_answers.response_id,
        open_answers.account_id,
        open_answers.nps_category,
        topic_answers.response_id is not null as is_exposed

    from topic_list
    cross join open_answers
    left join topic_answers
        on topic_answers.topic = topic_list.driver
        and topic_answers.response_id = open_answers.response_id

),

-- touchpoints --------------------------------------------------------------------------------
-- a person's own touches, and the account-level ones (customer_id null) of their account
touched as (

    select touchpoints.touchpoint_type, responses.response_id
    from responses
    inner join touchpoints
        on touchpoints.customer_id = responses.customer_id
        and touchpoints.touched_at < responses.responded_at
        and touchpoints.touched_at >= {{ dbt.dateadd('day', -1 * var('driver_window_days'), 'responses.responded_at') }}

    union

    select touchpoints.touchpoint_type, responses.response_id
    from responses
    inner join touchpoints
        on touchpoints.customer_id is null
        and touchpoints.account_id = responses.account_id
        and touchpoints.touched_at < responses.responded_at
        and touchpoints.touched_at >= {{ dbt.dateadd('day', -1 * var('driver_window_days'), 'responses.responded_at') }}

),

touchpoint_list as (

    select distinct touchpoint_type as driver from touched

),

touchpoint_population as (

    select
        'touchpoint' as driver_kind,
        touchpoint_list.driver,
        'touchpoint_before_answer' as method,
        responses.response_id,
        responses.account_id,
        responses.nps_category,
        touched.response_id is not null as is_exposed

    from touchpoint_list
    cross join responses
    left join touched
        on touched.touchpoint_type = touchpoint_list.driver
        and touched.response_id = responses.response_id

),

-- ticket experiences -------------------------------------------------------------------------
answer_tickets as (

    select
        responses.response_id,
        responses.account_id,
        responses.nps_category,
        max(case when tickets.is_sla_breached then 1 else 0 end) as first_reply_over_target,
        max(case when tickets.count_reopens > 0 then 1 else 0 end) as reopened,
        max(case when tickets.satisfaction_score = 'bad' then 1 else 0 end) as csat_bad,
        max(case when tickets.satisfaction_score = 'good' then 1 else 0 end) as csat_good

    from responses
    inner join tickets
        on tickets.customer_id = responses.customer_id
        and tickets.created_at < responses.responded_at
        and tickets.created_at >= {{ dbt.dateadd('day', -1 * var('driver_window_days'), 'responses.responded_at') }}
    group by responses.response_id, responses.account_id, responses.nps_category

),

experience_population as (

    {% for experience in ['first_reply_over_target', 'reopened', 'csat_bad', 'csat_good'] %}
    select
        'ticket_experience' as driver_kind,
        '{{ experience }}' as driver,
        'ticket_before_answer' as method,
        response_id,
        account_id,
        nps_category,
        {{ experience }} = 1 as is_exposed
    from answer_tickets
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

population as (

    select * from topic_population
    union all
    select * from touchpoint_population
    union all
    select * from experience_population

),

-- every driver, also a topic no NPS answer names (only ticket comments, or no NPS answers)
drivers as (

    select 'topic' as driver_kind, driver, method from topic_list
    union all
    select distinct driver_kind, driver, method from population where driver_kind <> 'topic'

),

counted as (

    select
        driver_kind,
        driver,
        count(case when is_exposed then 1 end) as n_with,
        count(case when is_exposed and nps_category = 'promoter' then 1 end) as promoters_with,
        count(case when is_exposed and nps_category = 'detractor' then 1 end) as detractors_with,
        count(case when not is_exposed then 1 end) as n_without,
        count(case when not is_exposed and nps_category = 'promoter' then 1 end) as promoters_without,
        count(case when not is_exposed and nps_category = 'detractor' then 1 end) as detractors_without

    from population
    group by driver_kind, driver

),

account_exposure as (

    select
        population.driver_kind,
        population.driver,
        population.account_id,
        max(case when population.is_exposed then 1 else 0 end) as is_exposed,
        max(case when accounts.is_churned then 1 else 0 end) as is_churned

    from population
    inner join accounts
        on accounts.account_id = population.account_id
    group by population.driver_kind, population.driver, population.account_id

),

churn as (

    select
        driver_kind,
        driver,
        avg(case when is_exposed = 1 then 1.0 * is_churned end) as churned_share_with,
        avg(case when is_exposed = 0 then 1.0 * is_churned end) as churned_share_without

    from account_exposure
    group by driver_kind, driver

),

counted_drivers as (

    select
        drivers.driver_kind,
        drivers.driver,
        drivers.method,
        coalesce(counted.n_with, 0) as n_with,
        coalesce(counted.promoters_with, 0) as promoters_with,
        coalesce(counted.detractors_with, 0) as detractors_with,
        coalesce(counted.n_without, 0) as n_without,
        coalesce(counted.promoters_without, 0) as promoters_without,
        coalesce(counted.detractors_without, 0) as detractors_without

    from drivers
    left join counted
        on counted.driver_kind = drivers.driver_kind
        and counted.driver = drivers.driver

),

measured as (

    select
        counted_drivers.*,
        {{ nps('promoters_with', 'detractors_with', 'n_with') }} as nps_with_raw,
        {{ nps('promoters_without', 'detractors_without', 'n_without') }} as nps_without_raw,
        -- variance of one NPS estimate in proportion units, (p + d - (p - d)^2) / n, with the
        -- shares add-one smoothed (p = (promoters + 1) / (n + 3), d likewise), so a side of
        -- only detractors or only promoters does not get a zero-width interval
        {{ nps_difference_variance('promoters_with', 'detractors_with', 'n_with') }} as variance_with,
        {{ nps_difference_variance('promoters_without', 'detractors_without', 'n_without') }}
            as variance_without

    from counted_drivers

),

final as (

    select
        measured.driver_kind || ':' || measured.driver as driver_id,
        measured.driver_kind,
        measured.driver,
        coalesce(topic_list.n_mentions, measured.n_with) as n_mentions,
        measured.n_with,
        measured.n_without,
        {{ cx_round(percent_of('measured.detractors_with', 'measured.detractors_with + measured.detractors_without'), 2) }}
            as detractor_share,
        {{ cx_round(percent_of('measured.promoters_with', 'measured.promoters_with + measured.promoters_without'), 2) }}
            as promoter_share,
        {{ cx_round('measured.nps_with_raw', 2) }} as nps_with,
        {{ cx_round('measured.nps_without_raw', 2) }} as nps_without,
        {{ cx_round('measured.nps_with_raw - measured.nps_without_raw', 2) }} as nps_impact,
        {{ cx_round("measured.nps_with_raw - measured.nps_without_raw - " ~ var('nps_moe_z') ~ " * 100.0 * sqrt(measured.variance_with + measured.variance_without)", 2) }}
            as nps_impact_ci_low,
        {{ cx_round("measured.nps_with_raw - measured.nps_without_raw + " ~ var('nps_moe_z') ~ " * 100.0 * sqrt(measured.variance_with + measured.variance_without)", 2) }}
            as nps_impact_ci_high,
        {{ cx_round('100.0 * (churn.churned_share_with - churn.churned_share_without)', 2) }}
            as churn_effect,
        {{ is_small_sample('measured.n_with') }} as is_small_sample,
        measured.method

    from measured
    left join topic_list
        on measured.driver_kind = 'topic'
        and topic_list.driver = measured.driver
    left join churn
        on churn.driver_kind = measured.driver_kind
        and churn.driver = measured.driver

)

select * from final
