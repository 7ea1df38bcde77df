{#- Source freshness = when the source's data last arrived, not when a row last changed.

    Ingest skips a file whose bytes it has landed before, so a nightly export that did not
    change lands no rows; it is still a delivery (ops.ingest_files.last_delivered_at, set from
    the file's new modification time). The newest of that and the table's own _loaded_at
    (tables loaded by other tools have no ops.ingest_files rows) is the source's age.
    Used as each source's `loaded_at_query`; `this` is the source table. -#}
{% macro cx_source_delivered_at() -%}
select greatest(
    (
        select max(coalesce(last_delivered_at, loaded_at))
        from ops.ingest_files
        where source || '__' || entity = '{{ this.identifier }}'
    ),
    (select max(_loaded_at) from {{ this }})
)
{%- endmacro %}
