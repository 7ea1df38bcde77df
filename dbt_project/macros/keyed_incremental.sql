{#- Models incremental by fingerprint (docs/decisions.md "Incremental models"): a run recomputes
    only the keys (snapshots, accounts) whose input rows changed, found by a fingerprint of the
    rows each key reads, kept in the model's `input_hash` column. -#}

{#- A 64-bit hash of a row's values (null and '' apart). -#}
{% macro cx_row_hash(expressions) -%}
    {{ return(adapter.dispatch('cx_row_hash', 'cxloop')(expressions)) }}
{%- endmacro %}

{% macro default__cx_row_hash(expressions) -%}
    hash({{ expressions | join(', ') }})
{%- endmacro %}

{% macro postgres__cx_row_hash(expressions) -%}
    hashtextextended(cast(row({{ expressions | join(', ') }}) as text), 0)
{%- endmacro %}

{#- An order-free fingerprint of a group's rows: the sum of their row hashes (a repeated row
    counts again). -#}
{% macro cx_hash_sum(expressions) -%}
    sum({{ cx_row_hash(expressions) }})
{%- endmacro %}

{#- One row per row of `spine` (its `key`, a snapshot of `partition` at `cutoff`) with
    `input_hash`: the sum of the row hashes of the partition's input rows the snapshot sees, so
    order-free and counting a repeated row. Each input is (relation, time, rule, [expressions]):
    its rows of the same `partition` count for the snapshots whose cutoff is after their
    `time` (rule 'before') or at or after it ('at_or_before'); a null time counts for every
    snapshot. A changed, added or removed row changes the hash of exactly the snapshots that
    see it (but for a chance of one in 2^64); the others keep theirs. -#}
{% macro cx_point_in_time_hashes(spine, key, partition, cutoff, inputs) -%}
    select {{ key }}, input_hash
    from (
        select
            {{ key }},
            cast(sum(row_hash) over (
                partition by {{ partition }}
                order by event_at nulls first, tie
                rows between unbounded preceding and current row
            ) as {{ dbt.type_string() }}) as input_hash
        from (
            -- a snapshot sorts after the rows at its cutoff it sees, before those it does not
            select {{ key }}, {{ partition }}, {{ cutoff }} as event_at, 1 as tie, 0 as row_hash
            from {{ spine }}
            {%- for relation, time, rule, expressions in inputs %}
            union all
            select
                cast(null as {{ dbt.type_string() }}),
                {{ partition }},
                {{ time }},
                {{ 0 if rule == 'at_or_before' else 2 }},
                {{ cx_row_hash(expressions) }}
            from {{ relation }}
            {%- endfor %}
        ) as timeline
    ) as hashed
    where {{ key }} is not null
{%- endmacro %}

{#- The keys of `hashes` (a relation with `key` and input_hash) to compute in this run: all of
    them in a full build; in an incremental run those whose input_hash the model does not hold. -#}
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

{#- The pre-hook of a model incremental by account whose account may have no rows: remove the
    accounts whose fingerprint in `hashes` (its column `hash_column`) is not the one they were
    computed with, or that have none (the body then computes every account it does not hold). -#}
{% macro cx_drop_stale_accounts(hashes, hash_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where not exists (
        select 1 from {{ hashes }} as current_hashes
        where current_hashes.account_id = {{ this }}.account_id
            and current_hashes.{{ hash_column }} = {{ this }}.input_hash
    )
    {%- endif -%}
{%- endmacro %}

{#- The accounts of `hashes` to compute in this run (with their fingerprint as input_hash): all
    in a full build; in an incremental run those the model does not hold (its pre-hook removed
    the stale ones). -#}
{% macro cx_accounts_to_compute(hashes, hash_column) -%}
    select account_id, {{ hash_column }} as input_hash
    from {{ hashes }} as current_hashes
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as kept where kept.account_id = current_hashes.account_id
    )
    {%- endif %}
{%- endmacro %}
