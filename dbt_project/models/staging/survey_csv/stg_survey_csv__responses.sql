-- One row per response of a generic survey CSV, in the columns of stg_qualtrics__responses so
-- that int_survey_responses__unioned can stack them. The adapter wrote responded_at as UTC
-- (from the mapped column, format and zone); response_id is prefixed with the survey id, since
-- a tool's ids (often row numbers) repeat across surveys.
with

source as (

    select * from {{ source('survey_csv', 'responses') }}

),

renamed as (

    select
        {{ dbt.concat(["survey_id", "':'", blank_to_null('response_id')]) }} as response_id,
        {{ blank_to_null('survey_id') }} as survey_id,
        lower({{ blank_to_null('survey_kind') }}) as survey_kind,
        lower({{ blank_to_null('touchpoint') }}) as touchpoint,
        lower({{ blank_to_null('channel') }}) as channel,
        cast(null as {{ dbt.type_string() }}) as distribution_channel,
        cast(null as {{ dbt.type_string() }}) as response_status,
        cast(null as {{ cx_type('bigint') }}) as progress_percent,
        true as is_finished,  -- a CSV export holds submitted responses
        {{ blank_to_null('email') }} as respondent_email,
        {{ normalize_email('email') }} as email_normalized,
        {{ blank_to_null('phone') }} as respondent_phone,
        coalesce(
            {{ blank_to_null('first_name') }},
            nullif(split_part(trim(full_name), ' ', 1), '')
        ) as respondent_first_name,
        coalesce(
            {{ blank_to_null('last_name') }},
            nullif(trim(substr(trim(full_name), length(split_part(trim(full_name), ' ', 1)) + 1)), '')
        ) as respondent_last_name,
        cast(null as {{ dbt.type_string() }}) as external_reference,
        {{ blank_to_null('contact_id') }} as salesforce_contact_id,
        {{ blank_to_null('account_id') }} as salesforce_account_id,
        {{ to_integer('ticket_id') }} as ticket_id,
        {{ to_integer('nps') }} as nps_score_raw,
        cast(null as {{ dbt.type_string() }}) as nps_group,
        {{ to_integer('csat') }} as csat_score_raw,
        {{ to_integer('ces') }} as ces_score_raw,
        {{ blank_to_null('open_text') }} as open_text,
        {{ blank_to_null('not_applicable') }} as not_applicable_measures,
        {{ blank_to_null('language') }} as language_raw,
        {{ normalize_language('language') }} as language,
        {{ blank_to_null('time_zone') }} as time_zone,
        {{ dbt.safe_cast(blank_to_null('responded_at_local'), dbt.type_timestamp()) }} as recorded_at_local,
        {{ to_utc_timestamp('responded_at') }} as responded_at,
        answers as answers_json,
        _loaded_at

    from source

),

scored as (

    select
        response_id,
        survey_id,
        survey_kind,
        touchpoint,
        channel,
        distribution_channel,
        response_status,
        progress_percent,
        is_finished,
        respondent_email,
        email_normalized,
        respondent_phone,
        respondent_first_name,
        respondent_last_name,
        external_reference,
        salesforce_contact_id,
        salesforce_account_id,
        ticket_id,
        nps_group,
        open_text,
        not_applicable_measures,
        language_raw,
        language,
        time_zone,
        recorded_at_local,
        responded_at,
        answers_json,
        _loaded_at,
        {{ survey_scores() }},
        false as is_test_or_spam,  -- a generic export says nothing of tests; filter them out before
        not is_finished as is_partial

    from renamed

),

categorized as (

    select
        *,
        {{ nps_category('nps_score', 'nps_group') }} as nps_category

    from scored

),

-- Which responses count (docs/metrics.md): a partial one only when its survey has
-- include_partial (dbt var partial_response_surveys) and a score answered.

counted as (

    select
        *,
        {{ finished_or_counted_partial() }} as is_counted

    from categorized

),

-- one row per response, its latest version (a re-export that changed a row lands it again)
final as (

    {{ cx_latest_version('counted', 'response_id', '_loaded_at desc') }}

)

select * from final
