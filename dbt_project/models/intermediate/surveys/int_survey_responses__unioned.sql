{{ config(
    materialized='incremental',
    unique_key=['source', 'response_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
-- Every survey response, whichever tool collected it: the staging models of each survey
-- source have exactly the same columns (tests/dbt/test_survey_staging_columns.py), stacked
-- here with the source that identity resolution names them by. Response ids are unique
-- across sources (Qualtrics R_..., Typeform tokens, `<survey_id>:<id>` for CSVs; tested: the
-- incremental key is (source, response_id), so a run keeps an id two sources share and the
-- test fails as a full build's would).
-- Incremental (docs/decisions.md "Incremental models"): a run takes from each source only the
-- responses whose latest version landed after the newest this table holds of that source, and
-- replaces them. Raw is append-only and a landing's _loaded_at is later than every earlier
-- landing's of its table, so a response with a new version is exactly one whose latest version
-- is newer than that; an erasure or a project change refreshes fully.
with

qualtrics as (

    select * from {{ ref('stg_qualtrics__responses') }}
    {% if is_incremental() -%}
    where _loaded_at > (
        select {{ cx_loaded_watermark() }} from {{ this }} where source = 'qualtrics'
    )
    {%- endif %}

),

typeform as (

    select * from {{ ref('stg_typeform__responses') }}
    {% if is_incremental() -%}
    where _loaded_at > (
        select {{ cx_loaded_watermark() }} from {{ this }} where source = 'typeform'
    )
    {%- endif %}

),

survey_csv as (

    select * from {{ ref('stg_survey_csv__responses') }}
    {% if is_incremental() -%}
    where _loaded_at > (
        select {{ cx_loaded_watermark() }} from {{ this }} where source = 'survey_csv'
    )
    {%- endif %}

),

unioned as (

    select 'qualtrics' as source, * from qualtrics
    union all
    select 'typeform' as source, * from typeform
    union all
    select 'survey_csv' as source, * from survey_csv

),

final as (

    select * from unioned

)

select * from final
