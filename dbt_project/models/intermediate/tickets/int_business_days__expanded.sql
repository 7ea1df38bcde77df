-- One row per working day of the business-hours schedule (cxloop.yaml business_hours, passed
-- as vars): the day's opening and closing time in UTC. Weekdays use Python's numbering
-- (Monday = 0); holidays are local dates. The range covers every ticket and the as-of date.
{%- set weekdays = var('business_weekdays') | map('int') | list %}
{%- set holidays = var('business_holidays') %}
{%- set zone = var('business_hours_timezone') %}
with

tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}

),

as_of as (

    select * from {{ ref('int_as_of__derived') }}

),

bounds as (

    select
        cast(coalesce(
            (select min(created_at) from tickets), (select max(as_of_at) from as_of)
        ) as date) - 2 as first_day,
        cast(coalesce(
            (select max(as_of_at) from as_of), (select max(created_at) from tickets)
        ) as date) + 2 as last_day

),

days as (

    select cast(day_start as date) as local_date
    from bounds, {{ cx_series('bounds.first_day', 'bounds.last_day', 'day') }} as spine(day_start)

),

working_days as (

    select local_date
    from days
    where (extract(isodow from local_date) - 1) in ({{ weekdays | join(', ') if weekdays else '-1' }})
    {%- if holidays %}
        and local_date not in (
            {%- for holiday in holidays %}date '{{ holiday }}'{{ ', ' if not loop.last }}{% endfor -%}
        )
    {%- endif %}

),

final as (

    select
        local_date,
        timezone('UTC', timezone('{{ zone }}', local_date + time '{{ var("business_hours_start") }}'))
            as open_at,
        timezone('UTC', timezone('{{ zone }}', local_date + time '{{ var("business_hours_end") }}'))
            as close_at

    from working_days

)

select * from final
