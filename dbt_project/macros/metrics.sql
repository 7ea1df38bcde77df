{#- The metric formulas, written once; docs/metrics.md states the same. -#}

{#- NPS bucket from a 0-10 score; falls back to Qualtrics' NPS group (1/2/3 or its label). -#}
{% macro nps_category(score_column, group_column=none) -%}
    case
        when {{ score_column }} between 9 and 10 then 'promoter'
        when {{ score_column }} between 7 and 8 then 'passive'
        when {{ score_column }} between 0 and 6 then 'detractor'
        {%- if group_column is not none %}
        when {{ score_column }} is null and lower(trim({{ group_column }})) in ('3', 'promoter') then 'promoter'
        when {{ score_column }} is null and lower(trim({{ group_column }})) in ('2', 'passive', 'neutral') then 'passive'
        when {{ score_column }} is null and lower(trim({{ group_column }})) in ('1', 'detractor') then 'detractor'
        {%- endif %}
    end
{%- endmacro %}

{#- NPS = %promoters - %detractors, -100..100; null with no responses. -#}
{% macro nps(promoters, detractors, responses) -%}
    100.0 * ({{ promoters }} - {{ detractors }}) / nullif({{ responses }}, 0)
{%- endmacro %}

{#- 95% margin of error of NPS: z * 100 * sqrt((p_pro + p_det - (p_pro - p_det)^2) / n). -#}
{% macro nps_margin_of_error(promoters, detractors, responses) -%}
    {{ var('nps_moe_z') }} * 100.0 * sqrt(
        (
            1.0 * {{ promoters }} / nullif({{ responses }}, 0)
            + 1.0 * {{ detractors }} / nullif({{ responses }}, 0)
            - power(1.0 * ({{ promoters }} - {{ detractors }}) / nullif({{ responses }}, 0), 2)
        ) / nullif({{ responses }}, 0)
    )
{%- endmacro %}

{#- Share in percent, and its 95% margin of error z * 100 * sqrt(p (1 - p) / n). -#}
{% macro percent_of(part, responses) -%}
    100.0 * {{ part }} / nullif({{ responses }}, 0)
{%- endmacro %}

{% macro proportion_margin_of_error(part, responses) -%}
    {{ var('nps_moe_z') }} * 100.0 * sqrt(
        (1.0 * {{ part }} / nullif({{ responses }}, 0))
        * (1.0 - 1.0 * {{ part }} / nullif({{ responses }}, 0))
        / nullif({{ responses }}, 0)
    )
{%- endmacro %}

{#- 95% margin of error of a mean: z * sample stddev / sqrt(n); null below two responses. -#}
{% macro mean_margin_of_error(stddev, responses) -%}
    {{ var('nps_moe_z') }} * {{ stddev }} / sqrt(nullif({{ responses }}, 0))
{%- endmacro %}

{#- Variance of one side's NPS (proportion units) in an NPS difference (mart_drivers):
    (p + d - (p - d)^2) / n with add-one smoothed shares p = (promoters + 1) / (n + 3),
    d = (detractors + 1) / (n + 3); null when n = 0. The 95% interval of a difference of two
    independent NPS is diff -+ z * 100 * sqrt(v1 + v2). -#}
{% macro nps_difference_variance(promoters, detractors, responses) -%}
    (
        (1.0 * {{ promoters }} + 1) / ({{ responses }} + 3)
        + (1.0 * {{ detractors }} + 1) / ({{ responses }} + 3)
        - power((1.0 * {{ promoters }} - {{ detractors }}) / ({{ responses }} + 3), 2)
    ) / nullif({{ responses }}, 0)
{%- endmacro %}

{% macro is_small_sample(responses) -%}
    ({{ responses }} < {{ var('small_sample_size') }})
{%- endmacro %}

{#- Significance of a change between two periods: |z| >= var significance_z (1.96, 95%). -#}
{#- z = difference / standard error; null when a period has no responses or the error is 0. -#}
{% macro change_z(difference, standard_error) -%}
    ({{ difference }}) / nullif({{ standard_error }}, 0)
{%- endmacro %}

{% macro is_significant(z_column) -%}
    coalesce(abs({{ z_column }}) >= {{ var('significance_z') }}, false)
{%- endmacro %}

{#- Standard error of NPS (in points) for the variance-based z test. -#}
{% macro nps_standard_error(promoters, detractors, responses) -%}
    100.0 * sqrt(
        (
            1.0 * {{ promoters }} / nullif({{ responses }}, 0)
            + 1.0 * {{ detractors }} / nullif({{ responses }}, 0)
            - power(1.0 * ({{ promoters }} - {{ detractors }}) / nullif({{ responses }}, 0), 2)
        ) / nullif({{ responses }}, 0)
    )
{%- endmacro %}

{#- Pooled standard error (in points) of the difference of two proportions (two-proportion z test). -#}
{% macro two_proportion_standard_error(part_1, n_1, part_0, n_0) -%}
    100.0 * sqrt(
        (1.0 * ({{ part_1 }} + {{ part_0 }}) / nullif({{ n_1 }} + {{ n_0 }}, 0))
        * (1.0 - 1.0 * ({{ part_1 }} + {{ part_0 }}) / nullif({{ n_1 }} + {{ n_0 }}, 0))
        * (1.0 / nullif({{ n_1 }}, 0) + 1.0 / nullif({{ n_0 }}, 0))
    )
{%- endmacro %}

{#- Standard error of the difference of two means (Welch): sqrt(s1^2/n1 + s0^2/n0). -#}
{% macro two_mean_standard_error(stddev_1, n_1, stddev_0, n_0) -%}
    sqrt(
        power({{ stddev_1 }}, 2) / nullif({{ n_1 }}, 0)
        + power({{ stddev_0 }}, 2) / nullif({{ n_0 }}, 0)
    )
{%- endmacro %}

{#- Business minutes between two UTC timestamps: the overlap of [start, end) with the working
    windows of int_business_days__expanded, minutes counted as dbt.datediff counts them.
    Computed as F(end) - F(start), F(t) the business minutes of all working windows up to t
    (`business_minute_of`), from the row of `business_calendar` (int_tickets__measured) for each
    timestamp's local date: one join per timestamp instead of a range join over every working day
    per ticket (1.5 s of int_tickets__measured's 1.6 s at scale 10, session 20). Exact while each
    working window lies within its local date and opens before it closes in UTC (start < end is
    config-checked), so every window of an earlier local date closes before t and every later one
    opens after it. Not so on a date whose hours fall in a daylight-saving gap or a transition
    that crosses midnight (hours up to 23:xx in America/Nuuk, 02:30-03:10 on a spring-forward
    night, a date a zone skipped): there the two sums differ by up to the gap. An end before the
    start counts as the windows did: its (negative) minutes when one working window holds both,
    else 0; a null end or start counts 0. -#}
{% macro business_minutes(start_column, end_column, start_day, end_day, bounds) -%}
    case
        when {{ start_column }} is null or {{ end_column }} is null then 0
        when {{ end_column }} >= {{ start_column }} then
            {{ business_minute_of(end_column, end_day, bounds) }}
            - {{ business_minute_of(start_column, start_day, bounds) }}
        when {{ end_day }}.open_at < {{ end_column }} and {{ end_day }}.close_at > {{ start_column }}
            then {{ dbt.datediff(start_column, end_column, 'minute') }}
        else 0
    end
{%- endmacro %}

{#- F(t): the business minutes of every working window up to t; `day` is business_calendar's row
    for t's local date (business_local_date), `bounds` the calendar's first and last date and its
    total minutes (t outside the calendar: 0 before it, all after it). -#}
{% macro business_minute_of(timestamp_column, day, bounds) -%}
    (case
        when {{ bounds }}.first_date is null
            or {{ business_local_date(timestamp_column) }} < {{ bounds }}.first_date then 0
        when {{ business_local_date(timestamp_column) }} > {{ bounds }}.last_date
            then {{ bounds }}.total_minutes
        else {{ day }}.minutes_before + case when {{ day }}.open_at < {{ timestamp_column }}
            then {{ dbt.datediff(day ~ '.open_at', 'least(' ~ day ~ '.close_at, ' ~ timestamp_column ~ ')', 'minute') }}
            else 0 end
    end)
{%- endmacro %}

{#- The local date, in the business-hours time zone, of a UTC timestamp. -#}
{% macro business_local_date(timestamp_column) -%}
    cast(timezone('{{ var("business_hours_timezone") }}', timezone('UTC', {{ timestamp_column }})) as date)
{%- endmacro %}

{# Which survey responses count (docs/metrics.md), for every survey source: a finished one, or a
   partial one (is_partial) on a survey with include_partial (dbt var partial_response_surveys,
   from cxloop.yaml) that has a score answered. Previews, tests and spam are each source's own. #}
{% macro finished_or_counted_partial() -%}
    {%- set partial_surveys = var('partial_response_surveys', []) -%}
    (
        not is_partial
        {%- if partial_surveys %}
        or (
            survey_id in ({{ cx_string_list(partial_surveys) }})
            and coalesce(nps_category, cast(csat_score as {{ dbt.type_string() }}), cast(ces_score as {{ dbt.type_string() }})) is not null
        )
        {%- endif %}
    )
{%- endmacro %}

{# The survey scales (docs/metrics.md), for every survey source: NPS 0-10, CSAT 1-5, CES 1-7;
   a value outside its scale is no score. #}
{% macro survey_scores() -%}
        case when nps_score_raw between 0 and 10 then nps_score_raw end as nps_score,
        case when csat_score_raw between 1 and 5 then csat_score_raw end as csat_score,
        case when ces_score_raw between 1 and 7 then ces_score_raw end as ces_score
{%- endmacro %}
