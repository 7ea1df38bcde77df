-- Unknown segment values are kept, never dropped: for every day and metric, each segment
-- type's responses add up to the 'all' total.
with

nps_totals as (

    select 'nps' as metric, date_day, segment_type, sum(responses) as responses
    from {{ ref('mart_nps') }}
    group by date_day, segment_type

),

csat_totals as (

    select 'csat' as metric, date_day, segment_type, sum(responses) as responses
    from {{ ref('mart_csat') }}
    group by date_day, segment_type

),

ces_totals as (

    select 'ces' as metric, date_day, segment_type, sum(responses) as responses
    from {{ ref('mart_ces') }}
    group by date_day, segment_type

),

totals as (

    select * from nps_totals
    union all
    select * from csat_totals
    union all
    select * from ces_totals

),

final as (

    select by_segment.*, overall.responses as all_responses
    from totals as by_segment
    inner join totals as overall
        on overall.metric = by_segment.metric
        and overall.date_day = by_segment.date_day
        and overall.segment_type = 'all'
    where by_segment.responses <> overall.responses

)

select * from final
