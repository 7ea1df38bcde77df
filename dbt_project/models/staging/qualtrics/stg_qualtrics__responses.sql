{%- set present = source_column_names('qualtrics', 'responses') -%}
-- One row per Qualtrics response; RecordedDate is local time in the export's time zone.
with

source as (

    select * from {{ source('qualtrics', 'responses') }}

),

renamed as (

    select
        {{ blank_to_null('"ResponseId"') }} as response_id,
        {{ blank_to_null('survey_id') }} as survey_id,
        lower({{ blank_to_null(column_or_null(present, 'survey_kind')) }}) as survey_kind,
        lower({{ blank_to_null(column_or_null(present, 'touchpoint')) }}) as touchpoint,
        lower({{ blank_to_null(column_or_null(present, 'channel')) }}) as channel,
        lower({{ blank_to_null(column_or_null(present, 'DistributionChannel')) }}) as distribution_channel,
        {{ blank_to_null(column_or_null(present, 'Status')) }} as response_status,
        {{ to_integer(column_or_null(present, 'Progress')) }} as progress_percent,
        {{ to_boolean(column_or_null(present, 'Finished')) }} as is_finished,
        -- identity: a column the survey mapping names (email, phone, names; any column) first,
        -- then the distribution's Recipient* metadata
        coalesce({{ blank_to_null(column_or_null(present, 'email')) }}, {{ blank_to_null(column_or_null(present, 'RecipientEmail')) }})
            as respondent_email,
        coalesce({{ normalize_email(column_or_null(present, 'email')) }}, {{ normalize_email(column_or_null(present, 'RecipientEmail')) }})
            as email_normalized,
        {{ blank_to_null(column_or_null(present, 'phone')) }} as respondent_phone,
        coalesce(
            {{ blank_to_null(column_or_null(present, 'first_name')) }},
            nullif(split_part(trim({{ column_or_null(present, 'full_name') }}), ' ', 1), ''),
            {{ blank_to_null(column_or_null(present, 'RecipientFirstName')) }}
        ) as respondent_first_name,
        coalesce(
            {{ blank_to_null(column_or_null(present, 'last_name')) }},
            nullif(trim(substr(
                trim({{ column_or_null(present, 'full_name') }}),
                length(split_part(trim({{ column_or_null(present, 'full_name') }}), ' ', 1)) + 1
            )), ''),
            {{ blank_to_null(column_or_null(present, 'RecipientLastName')) }}
        ) as respondent_last_name,
        {{ blank_to_null(column_or_null(present, 'ExternalReference')) }} as external_reference,
        coalesce({{ blank_to_null(column_or_null(present, 'contact_id')) }}, {{ blank_to_null(column_or_null(present, 'ExternalReference')) }})
            as salesforce_contact_id,
        {{ blank_to_null(column_or_null(present, 'account_id')) }} as salesforce_account_id,
        {{ to_integer(column_or_null(present, 'ticket_id')) }} as ticket_id,
        {{ to_integer(column_or_null(present, 'nps')) }} as nps_score_raw,
        {{ blank_to_null(column_or_null(present, 'nps_group')) }} as nps_group,
        {{ to_integer(column_or_null(present, 'csat')) }} as csat_score_raw,
        {{ to_integer(column_or_null(present, 'ces')) }} as ces_score_raw,
        {{ blank_to_null(column_or_null(present, 'open_text')) }} as open_text,
        {{ blank_to_null(column_or_null(present, 'not_applicable')) }} as not_applicable_measures,
        coalesce({{ blank_to_null(column_or_null(present, 'language')) }}, {{ blank_to_null(column_or_null(present, 'UserLanguage')) }})
            as language_raw,
        {{ normalize_language('coalesce(' ~ blank_to_null(column_or_null(present, 'language')) ~ ', ' ~ column_or_null(present, 'UserLanguage') ~ ')') }}
            as language,
        {{ blank_to_null(column_or_null(present, 'time_zone')) }} as time_zone,
        {{ dbt.safe_cast(blank_to_null('"RecordedDate"'), dbt.type_timestamp()) }} as recorded_at_local,
        {{ local_to_utc_timestamp('"RecordedDate"', column_or_null(present, 'time_zone')) }} as responded_at,
        {{ column_or_null(present, 'answers') }} as answers_json,
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
        -- Qualtrics Status: 1 preview, 2 test, 8 spam, 9 preview spam, 12 imported spam, 17 offline preview
        coalesce(response_status in ('1', '2', '8', '9', '12', '17', 'Survey Preview', 'Survey Test', 'Spam'), false)
            or coalesce(distribution_channel in ('preview', 'test'), false)
            as is_test_or_spam,
        -- Finished = 0: the respondent left before the end (a missing Finished column counts as finished)
        coalesce(not is_finished, false) as is_partial

    from renamed

),

categorized as (

    select
        *,
        {{ nps_category('nps_score', 'nps_group') }} as nps_category

    from scored

),

-- Which responses count (docs/metrics.md): never a preview, test or spam; a partial one only
-- when its survey has include_partial (dbt var partial_response_surveys) and a score answered.

counted as (

    select
        *,
        not is_test_or_spam
            and {{ finished_or_counted_partial() }} as is_counted

    from categorized

),

-- one row per response_id, its latest version (raw keeps every version landed)
final as (

    {{ cx_latest_version('counted', 'response_id', '_loaded_at desc') }}

)

select * from final
