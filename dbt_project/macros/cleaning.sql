{#- Small cleaning helpers used by staging; each keeps the SQL portable behind one name. -#}

{#- An exported empty string means "no value" (Salesforce Bulk CSV, Qualtrics). -#}
{% macro blank_to_null(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Salesforce / Zendesk booleans are true/false text; Qualtrics uses 1/0. -#}
{% macro to_boolean(column) -%}
    case lower(trim({{ column }}))
        when 'true' then true
        when '1' then true
        when 'false' then false
        when '0' then false
    end
{%- endmacro %}

{% macro to_integer(column) -%}
    {{ dbt.safe_cast(blank_to_null(column), cx_type('bigint')) }}
{%- endmacro %}

{% macro to_numeric(column) -%}
    {{ dbt.safe_cast(blank_to_null(column), cx_type('double')) }}
{%- endmacro %}

{% macro to_date(column) -%}
    {{ dbt.safe_cast(blank_to_null(column), cx_type('date')) }}
{%- endmacro %}

{#- ISO-8601 text with an offset or Z (Salesforce .000Z, Zendesk Z) to a UTC timestamp without zone.
    A plain cast to timestamp would silently drop a non-zero offset, so go through timestamptz. -#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'cxloop')(column)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(column) -%}
    cast({{ dbt.safe_cast(blank_to_null(column), api.Column.translate_type('timestamp with time zone')) }} at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(column) -%}
    timezone('UTC', try_cast({{ blank_to_null(column) }} as timestamptz))
{%- endmacro %}

{#- Text without an offset is UTC here too, whatever the session's time zone. -#}
{% macro postgres__to_utc_timestamp(column) -%}
    case
        when {{ blank_to_null(column) }} ~ '[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'
            then cast({{ blank_to_null(column) }} as timestamp with time zone) at time zone 'UTC'
        else cast({{ blank_to_null(column) }} as timestamp)
    end
{%- endmacro %}

{#- A naive local time (Qualtrics RecordedDate) in the named zone to UTC; Z / UTC / empty mean UTC. -#}
{% macro local_to_utc_timestamp(column, zone_column) -%}
    {{ return(adapter.dispatch('local_to_utc_timestamp', 'cxloop')(column, zone_column)) }}
{%- endmacro %}

{% macro default__local_to_utc_timestamp(column, zone_column) -%}
    cast(({{ dbt.safe_cast(blank_to_null(column), dbt.type_timestamp()) }} at time zone {{ utc_zone_name(zone_column) }}) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__local_to_utc_timestamp(column, zone_column) -%}
    timezone('UTC', timezone({{ utc_zone_name(zone_column) }}, try_cast({{ blank_to_null(column) }} as timestamp)))
{%- endmacro %}

{% macro utc_zone_name(zone_column) -%}
    case
        when {{ blank_to_null(zone_column) }} is null then 'UTC'
        when upper(trim({{ zone_column }})) in ('Z', 'UTC', 'GMT', 'ZULU') then 'UTC'
        else trim({{ zone_column }})
    end
{%- endmacro %}

{#- E-mail as a join key: trimmed and lower-cased; empty means none. -#}
{% macro normalize_email(column) -%}
    lower({{ blank_to_null(column) }})
{%- endmacro %}

{#- The host of a website or e-mail domain: no scheme, www., port, path; lower case. -#}
{% macro website_domain(column) -%}
    nullif(
        split_part(split_part(split_part(
            regexp_replace(lower(trim({{ column }})), '^[a-z]+://(www\.)?|^www\.', ''),
        '/', 1), ':', 1), '?', 1),
        ''
    )
{%- endmacro %}

{#- Qualtrics (EN, PT-BR, ZH-S, TGL), Zendesk (en-US) or CRM (en_US) codes to ISO 639-1 lower case;
    anything that is not a two-letter code after that is null (reported as 'unknown'). -#}
{% macro normalize_language(column) -%}
    case
        when lower(trim({{ column }})) in ('tgl', 'fil') then 'tl'
        when length(split_part(split_part(lower(trim({{ column }})), '-', 1), '_', 1)) = 2
            then split_part(split_part(lower(trim({{ column }})), '-', 1), '_', 1)
    end
{%- endmacro %}

{#- Phone text to E.164 when it already carries a country code (+ or 00); otherwise null,
    because a national number cannot be placed without its country. -#}
{% macro phone_e164(column) -%}
    case
        when {{ cx_regexp_matches("regexp_replace(trim(" ~ column ~ "), '[^0-9+]', '', 'g')", "'^\\+[1-9][0-9]{6,14}$'") }}
            then regexp_replace(trim({{ column }}), '[^0-9+]', '', 'g')
        when {{ cx_regexp_matches("regexp_replace(trim(" ~ column ~ "), '[^0-9]', '', 'g')", "'^00[1-9][0-9]{6,14}$'") }}
            and left(trim({{ column }}), 1) <> '+'
            then '+' || substr(regexp_replace(trim({{ column }}), '[^0-9]', '', 'g'), 3)
    end
{%- endmacro %}

{#- A list of strings as SQL literals for `in (...)` (quotes doubled); never empty. -#}
{% macro cx_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | string | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endfor -%}
{%- endmacro %}
