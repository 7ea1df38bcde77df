-- Every survey response, whichever tool collected it: the staging models of each survey
-- source have exactly the same columns (tests/dbt/test_survey_staging_columns.py), stacked
-- here with the source that identity resolution names them by. Response ids are unique
-- across sources (Qualtrics R_..., Typeform tokens, `<survey_id>:<id>` for CSVs).
with

qualtrics as (

    select * from {{ ref('stg_qualtrics__responses') }}

),

typeform as (

    select * from {{ ref('stg_typeform__responses') }}

),

survey_csv as (

    select * from {{ ref('stg_survey_csv__responses') }}

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
