{#- Open-text normalization for keyword matching: lower case; Arabic and Persian letter
    variants folded (Arabic yeh and alef maksura -> Persian yeh, Arabic kaf -> keheh, alef with
    hamza/madda/wasla -> alef, teh marbuta -> heh, waw with hamza -> waw, zero-width
    non-joiner -> space); harakat, superscript alef and tatweel removed; spaces collapsed.
    The patterns of seeds/topic_keywords.csv go through the same function. -#}
{% macro normalize_text(column) -%}
    regexp_replace(
        regexp_replace(
            translate(lower({{ column }}), 'يىكأإآٱةؤ‌', 'ییکااااهو '),
            '[{{ cx_regexp_code_point('064B') }}-{{ cx_regexp_code_point('065F') }}{{ cx_regexp_code_point('0670') }}{{ cx_regexp_code_point('0640') }}]', '', 'g'
        ),
        '\s+', ' ', 'g'
    )
{%- endmacro %}
