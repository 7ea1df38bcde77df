{{ config(schema='intermediate') }}
-- The latest churn score of each account (newest snapshot, then newest run), and the
-- probability of its latest score on an earlier snapshot (the trend a CSM reads).
with

{#- flows/build.py creates ml.churn_scores before every build; a bare `dbt build` on a fresh
    warehouse may not have it yet, so a missing table reads as no scores. -#}
{%- set scores_source = source('ml', 'churn_scores') -%}
{%- set scores_relation = adapter.get_relation(
    database=scores_source.database, schema=scores_source.schema,
    identifier=scores_source.identifier) if execute else scores_source %}
scores as (

    {% if scores_relation is none -%}
    select
        cast(null as varchar) as account_id,
        cast(null as timestamp) as scored_at,
        cast(null as varchar) as model_version,
        cast(null as double) as churn_probability,
        cast(null as varchar) as risk_band,
        cast(null as varchar) as top_drivers,
        cast(null as date) as snapshot_date
    where false
    {%- else -%}
    select * from {{ scores_source }}
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by account_id
            order by snapshot_date desc, scored_at desc, model_version desc
        ) as recency_rank

    from scores

),

latest as (

    select * from ranked where recency_rank = 1

),

previous as (

    select
        scores.account_id,
        scores.churn_probability,
        row_number() over (
            partition by scores.account_id
            order by scores.snapshot_date desc, scores.scored_at desc, scores.model_version desc
        ) as recency_rank

    from scores
    inner join latest
        on latest.account_id = scores.account_id
        and scores.snapshot_date < latest.snapshot_date

),

final as (

    select
        latest.account_id,
        latest.churn_probability,
        latest.risk_band,
        latest.top_drivers,
        latest.model_version,
        latest.scored_at,
        latest.snapshot_date,
        previous.churn_probability as previous_probability

    from latest
    left join previous
        on previous.account_id = latest.account_id
        and previous.recency_rank = 1

)

select * from final
