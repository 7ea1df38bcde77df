{#- Models incremental by key (docs/decisions.md "Incremental models", the snapshot features):
    a run recomputes only the keys (accounts) whose input rows changed, found by a fingerprint
    of each key's rows in every input, kept in the model's `input_hash` column. -#}

{#- An order-free fingerprint of a group's rows: the sum of a 64-bit hash of each row's values
    (a repeated row counts again). Equal rows give equal sums; a changed, added or removed row
    changes the sum, but for a chance of one in 2^64. -#}
{% macro cx_hash_sum(expressions) -%}
    {{ return(adapter.dispatch('cx_hash_sum', 'cxloop')(expressions)) }}
{%- endmacro %}

{% macro default__cx_hash_sum(expressions) -%}
    sum(hash({{ expressions | join(', ') }}))
{%- endmacro %}

{% macro postgres__cx_hash_sum(expressions) -%}
    sum(hashtextextended(cast(row({{ expressions | join(', ') }}) as text), 0))
{%- endmacro %}

{#- One row per key of `spine` with `input_hash`: the fingerprints of the key's rows in the
    spine and in each input, in order ('-' where the key has no row). `spine` and each input are
    (relation, [expressions]): every value the model reads of the key's rows. -#}
{% macro cx_input_hashes(key, spine, inputs) -%}
    select
        spine_rows.{{ key }},
        cast(spine_rows.fingerprint as {{ dbt.type_string() }})
        {%- for _ in inputs %}
            || '/' || coalesce(cast(input_{{ loop.index }}.fingerprint as {{ dbt.type_string() }}), '-')
        {%- endfor %} as input_hash

    from (
        select {{ key }}, {{ cx_hash_sum(spine[1]) }} as fingerprint
        from {{ spine[0] }}
        group by {{ key }}
    ) as spine_rows
    {%- for relation, expressions in inputs %}
    left join (
        select {{ key }}, {{ cx_hash_sum(expressions) }} as fingerprint
        from {{ relation }}
        group by {{ key }}
    ) as input_{{ loop.index }}
        on input_{{ loop.index }}.{{ key }} = spine_rows.{{ key }}
    {%- endfor %}
{%- endmacro %}

{#- The keys of `hashes` (a relation from cx_input_hashes) to compute in this run: all of them
    in a full build; in an incremental run those whose input_hash the model does not hold. -#}
{% macro cx_changed_keys(key, hashes) -%}
    select {{ key }}, input_hash from {{ hashes }}
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as kept
        where kept.{{ key }} = {{ hashes }}.{{ key }} and kept.input_hash = {{ hashes }}.input_hash
    )
    {%- endif %}
{%- endmacro %}

{#- The pre-hook of a model incremental by key: remove the keys its spine no longer has (the
    changed ones are replaced by delete+insert on the key). -#}
{% macro cx_drop_gone_keys(key, spine) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ key }} not in (select {{ key }} from {{ spine }} where {{ key }} is not null)
    {%- endif -%}
{%- endmacro %}
