{{ config(schema="intermediate", materialized="table") }}
-- One row per day, 2015-2035: the time spine MetricFlow needs to answer metric queries.
with

days as (

    {{ dbt.date_spine('day', "cast('2015-01-01' as date)", "cast('2036-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day from days

)

select * from final
