{#- Portability: SQL that dbt's cross-database macros (dbt.datediff, dbt.dateadd, dbt.date_trunc,
    dbt.hash, dbt.concat, dbt.type_*, ...) do not cover, behind one dispatched macro each:
    `default__` is DuckDB's SQL (the warehouse), `postgres__` the second target's
    (docs/postgres.md). An adapter without its own implementation gets DuckDB's, and fails
    loudly where that SQL is DuckDB-only; add an `<adapter>__` macro here to port it. -#}

{#- A type name for casts and typed empty relations: DuckDB's `double` is PostgreSQL's
    `double precision`. -#}
{% macro cx_type(name) -%}
    {{ return(adapter.dispatch('cx_type', 'cxloop')(name)) }}
{%- endmacro %}

{% macro default__cx_type(name) -%}
    {{ name }}
{%- endmacro %}

{% macro postgres__cx_type(name) -%}
    {{ {'double': 'double precision', 'varchar': 'text'}.get(name | lower, name) }}
{%- endmacro %}

{#- round(value, digits) as DuckDB rounds a double: half away from zero on value * 10^digits in
    double precision. PostgreSQL has no round(double precision, int), and round(numeric) of the
    value converted to numeric would round some halves differently. -#}
{% macro cx_round(value, digits) -%}
    {{ return(adapter.dispatch('cx_round', 'cxloop')(value, digits)) }}
{%- endmacro %}

{% macro default__cx_round(value, digits) -%}
    round({{ value }}, {{ digits }})
{%- endmacro %}

{% macro postgres__cx_round(value, digits) -%}
    {%- set scaled = '(cast(' ~ value ~ ' as double precision) * cast(1e' ~ digits ~ ' as double precision))' -%}
    (sign({{ scaled }}) * floor(abs({{ scaled }}) + 0.5) / cast(1e{{ digits }} as double precision))
{%- endmacro %}

{#- The median of a group (interpolated between the two middle values for an even count). -#}
{% macro cx_median(value) -%}
    {{ return(adapter.dispatch('cx_median', 'cxloop')(value)) }}
{%- endmacro %}

{% macro default__cx_median(value) -%}
    median({{ value }})
{%- endmacro %}

{% macro postgres__cx_median(value) -%}
    percentile_cont(0.5) within group (order by {{ value }})
{%- endmacro %}

{#- The first value of a group in the given order, among the rows where `condition` holds. -#}
{% macro cx_first(value, order_by, condition) -%}
    {{ return(adapter.dispatch('cx_first', 'cxloop')(value, order_by, condition)) }}
{%- endmacro %}

{% macro default__cx_first(value, order_by, condition) -%}
    first({{ value }} order by {{ order_by }}) filter (where {{ condition }})
{%- endmacro %}

{% macro postgres__cx_first(value, order_by, condition) -%}
    (array_agg({{ value }} order by {{ order_by }}) filter (where {{ condition }}))[1]
{%- endmacro %}

{#- The value of the row with the largest key (rows with a null value or key are ignored). -#}
{% macro cx_arg_max(value, key) -%}
    {{ return(adapter.dispatch('cx_arg_max', 'cxloop')(value, key)) }}
{%- endmacro %}

{% macro default__cx_arg_max(value, key) -%}
    arg_max({{ value }}, {{ key }})
{%- endmacro %}

{% macro postgres__cx_arg_max(value, key) -%}
    (array_agg({{ value }} order by {{ key }} desc)
        filter (where {{ value }} is not null and {{ key }} is not null))[1]
{%- endmacro %}

{#- Does the text match the regular expression somewhere (RE2 / PostgreSQL ARE: the patterns we
    use mean the same in both)? cx_regexp_full_match: the whole text. -#}
{% macro cx_regexp_matches(value, pattern) -%}
    {{ return(adapter.dispatch('cx_regexp_matches', 'cxloop')(value, pattern)) }}
{%- endmacro %}

{% macro default__cx_regexp_matches(value, pattern) -%}
    regexp_matches({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__cx_regexp_matches(value, pattern) -%}
    ({{ value }} ~ {{ pattern }})
{%- endmacro %}

{% macro cx_regexp_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('cx_regexp_full_match', 'cxloop')(value, pattern)) }}
{%- endmacro %}

{% macro default__cx_regexp_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__cx_regexp_full_match(value, pattern) -%}
    ({{ value }} ~ ('^(?:' || {{ pattern }} || ')$'))
{%- endmacro %}

{#- A regular-expression character class of Unicode code points, written as hex ('064B'). -#}
{% macro cx_regexp_code_point(hex) -%}
    {{ return(adapter.dispatch('cx_regexp_code_point', 'cxloop')(hex)) }}
{%- endmacro %}

{% macro default__cx_regexp_code_point(hex) -%}
    \x{ {{- hex -}} }
{%- endmacro %}

{% macro postgres__cx_regexp_code_point(hex) -%}
    \u{{ hex }}
{%- endmacro %}

{#- A UTC timestamp (without zone) from Unix epoch seconds. -#}
{% macro cx_epoch_seconds_to_timestamp(seconds) -%}
    {{ return(adapter.dispatch('cx_epoch_seconds_to_timestamp', 'cxloop')(seconds)) }}
{%- endmacro %}

{% macro default__cx_epoch_seconds_to_timestamp(seconds) -%}
    make_timestamp({{ seconds }} * 1000000)
{%- endmacro %}

{% macro postgres__cx_epoch_seconds_to_timestamp(seconds) -%}
    (to_timestamp({{ seconds }}) at time zone 'UTC')
{%- endmacro %}

{#- A table function of timestamps from `start` to `stop` (both included) every one `unit`
    (day, month); the caller names it: `from bounds, {{ cx_series(...) }} as spine(day_start)`. -#}
{% macro cx_series(start, stop, unit) -%}
    {{ return(adapter.dispatch('cx_series', 'cxloop')(start, stop, unit)) }}
{%- endmacro %}

{% macro default__cx_series(start, stop, unit) -%}
    range({{ start }}, {{ stop }} + 1, interval 1 {{ unit }})
{%- endmacro %}

{% macro postgres__cx_series(start, stop, unit) -%}
    generate_series(cast({{ start }} as timestamp), cast({{ stop }} as timestamp), interval '1 {{ unit }}')
{%- endmacro %}

{#- 'YYYY-MM' of a date or timestamp. -#}
{% macro cx_year_month(value) -%}
    {{ return(adapter.dispatch('cx_year_month', 'cxloop')(value)) }}
{%- endmacro %}

{% macro default__cx_year_month(value) -%}
    strftime({{ value }}, '%Y-%m')
{%- endmacro %}

{% macro postgres__cx_year_month(value) -%}
    to_char({{ value }}, 'YYYY-MM')
{%- endmacro %}

{#- JSON held as text (raw layer) or as a JSON value. cx_json_get_text: the text of a top-level
    member (numbers and booleans as their JSON text, JSON null as null). -#}
{% macro cx_json_get_text(json_value, key) -%}
    {{ return(adapter.dispatch('cx_json_get_text', 'cxloop')(json_value, key)) }}
{%- endmacro %}

{% macro default__cx_json_get_text(json_value, key) -%}
    json_extract_string({{ json_value }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__cx_json_get_text(json_value, key) -%}
    (cast({{ json_value }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{#- The same from text that may not be JSON at all (Zendesk ticket events carry `via` as plain
    text such as 'Web form'): null then. PostgreSQL 15 has no JSON validity test, and a cast of
    text that is not JSON fails, so there the test is "starts with {": the raw layer's JSON
    text is written by our ingest with json.dumps, so such text is a JSON object. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'cxloop')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    case when json_valid({{ column }}) then json_extract_string({{ column }}, '{{ path }}') end
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    {%- set keys = path.replace('$.', '', 1).split('.') -%}
    case when {{ column }} ~ '^\s*\{' then cast({{ column }} as jsonb) #>> '{ {{- keys | join(',') -}} }' end
{%- endmacro %}

{#- One row per element of a JSON array of strings held as text: a set-returning select-list
    expression (`select id, {{ cx_unnest_json_text_array('x') }} as element from ...`). -#}
{% macro cx_unnest_json_text_array(json_text) -%}
    {{ return(adapter.dispatch('cx_unnest_json_text_array', 'cxloop')(json_text)) }}
{%- endmacro %}

{% macro default__cx_unnest_json_text_array(json_text) -%}
    unnest(from_json({{ json_text }}, '["varchar"]'))
{%- endmacro %}

{% macro postgres__cx_unnest_json_text_array(json_text) -%}
    jsonb_array_elements_text(cast({{ json_text }} as jsonb))
{%- endmacro %}

{#- A list of strings from text that is a JSON array of strings or a single plain string
    (SendGrid's category): DuckDB varchar[], PostgreSQL text[]. -#}
{% macro cx_string_or_json_array(value) -%}
    {{ return(adapter.dispatch('cx_string_or_json_array', 'cxloop')(value)) }}
{%- endmacro %}

{% macro default__cx_string_or_json_array(value) -%}
    case
        when {{ value }} is null then null
        when json_valid({{ value }}) and json_type({{ value }}) = 'ARRAY'
            then cast(json_extract_string({{ value }}, '$[*]') as varchar[])
        else [{{ value }}]
    end
{%- endmacro %}

{% macro postgres__cx_string_or_json_array(value) -%}
    case
        when {{ value }} is null then null
        when {{ value }} ~ '^\s*\['
            then array(select jsonb_array_elements_text(cast({{ value }} as jsonb)))
        else array[{{ value }}]
    end
{%- endmacro %}

{#- A select of `columns` of `relation` with one row per element of the JSON array text in
    `json_column`: the element (JSON) as `element_name` and its 0-based position as
    `index_name`. An empty array gives no row. -#}
{% macro cx_unnest_json_array(relation, json_column, columns, index_name, element_name) -%}
    {{ return(adapter.dispatch('cx_unnest_json_array', 'cxloop')(relation, json_column, columns, index_name, element_name)) }}
{%- endmacro %}

{% macro default__cx_unnest_json_array(relation, json_column, columns, index_name, element_name) -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        unnested.element.position as {{ index_name }},
        unnested.element.value as {{ element_name }}
    from (
        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            unnest(list_transform(
                from_json({{ json_column }}, '["json"]'),
                lambda element, position: {'position': position - 1, 'value': element}
            )) as element
        from {{ relation }}
    ) as unnested
{%- endmacro %}

{% macro postgres__cx_unnest_json_array(relation, json_column, columns, index_name, element_name) -%}
    select
        {%- for column in columns %}
        {{ relation }}.{{ column }},
        {%- endfor %}
        elements.position - 1 as {{ index_name }},
        elements.element as {{ element_name }}
    from {{ relation }}
    cross join lateral jsonb_array_elements(cast({{ relation }}.{{ json_column }} as jsonb))
        with ordinality as elements (element, position)
{%- endmacro %}

{#- The latest version of each entity in a relation that holds several (raw is append-only):
    one row per `partition_by`, the first in `order_by`; the relation's columns, unchanged. -#}
{% macro cx_latest_version(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('cx_latest_version', 'cxloop')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__cx_latest_version(relation, partition_by, order_by) -%}
    select {{ star_except(['version_rank']) }}
    from (
        select
            *,
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as version_rank
        from {{ relation }}
    ) as ranked
    where version_rank = 1
{%- endmacro %}

{% macro postgres__cx_latest_version(relation, partition_by, order_by) -%}
    select distinct on ({{ partition_by }}) *
    from {{ relation }}
    order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

{#- The IANA time zone names this database knows, as a relation with a column `name`. -#}
{% macro cx_time_zone_names() -%}
    {{ return(adapter.dispatch('cx_time_zone_names', 'cxloop')()) }}
{%- endmacro %}

{% macro default__cx_time_zone_names() -%}
    (select name from pg_timezone_names())
{%- endmacro %}

{% macro postgres__cx_time_zone_names() -%}
    (select name from pg_timezone_names)
{%- endmacro %}

{#- A country as typed in a CRM ('United States', 'U.S.A.', 'DE') as the key of the
    country_time_zones seed: lower case, trimmed, without dots. -#}
{% macro cx_country_key(value) -%}
    replace(lower(trim({{ value }})), '.', '')
{%- endmacro %}

{#- The newest _loaded_at an incremental model kept (a time before any landing when empty):
    its next run reads only later landings. -#}
{% macro cx_loaded_watermark() -%}
    coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
{%- endmacro %}
