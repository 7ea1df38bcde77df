-- HubSpot deals in the columns of stg_salesforce__opportunities. A deal carries only its stage
-- id: the label and closed / won come from its pipeline's stage (stg_hubspot__deal_stages), the
-- one join in this staging layer (docs/decisions.md), besides the deal's company from the pulled
-- association answers (stg_hubspot__deal_companies) when the deal row has no `associations`.
{%- set present = source_column_names('hubspot', 'deals') %}
{#- dealtype as an open set, classified by cxloop.yaml's churn Type lists for this CRM
    (sources.<name>.churn; default new business: newbusiness), as stg_salesforce__opportunities -#}
{%- set churn = var('churn_methods', {}).get('hubspot', {}) -%}
{%- set new_business_types = churn.get('new_business_types') or ['newbusiness'] -%}
{%- set renewal_types = churn.get('renewal_types') %}
with

source as (

    select * from {{ source('hubspot', 'deals') }}

),

deal_stages as (

    select * from {{ ref('stg_hubspot__deal_stages') }}

),

-- the deal's company: the primary association (deal_to_company), else the first listed
associated_company as (

    {{ hubspot_associated_company('source', '_content_hash', column_or_null(present, 'associations'), 'deal') }}

),

-- for a deal without `associations` (the search answers `cxloop pull` lands): the company of
-- the v4 association answers
deal_companies as (

    select * from {{ ref('stg_hubspot__deal_companies') }}

),

renamed as (

    select
        {{ hubspot_id('source.id') }} as opportunity_id,
        coalesce(
            {{ hubspot_id('associated_company.company_id') }}, deal_companies.account_id
        ) as account_id,
        {{ hubspot_id(column_or_null(present, 'hubspot_owner_id')) }} as owner_user_id,
        {{ blank_to_null(column_or_null(present, 'dealname')) }} as opportunity_name,
        -- HubSpot's value as it is (newbusiness, existingbusiness, a portal's own)
        {{ blank_to_null(column_or_null(present, 'dealtype')) }} as opportunity_type,
        {{ blank_to_null(column_or_null(present, 'pipeline')) }} as pipeline_id,
        {{ blank_to_null(column_or_null(present, 'dealstage')) }} as stage_id,
        {{ to_boolean(column_or_null(present, 'hs_is_closed')) }} as hs_is_closed,
        {{ to_boolean(column_or_null(present, 'hs_is_closed_won')) }} as hs_is_closed_won,
        {{ to_numeric(column_or_null(present, 'amount')) }} as amount,
        -- closedate is a datetime (midnight UTC when set as a day); its UTC date
        case
            when length(trim({{ column_or_null(present, 'closedate') }})) = 10
                then {{ to_date(column_or_null(present, 'closedate')) }}
            else cast({{ to_utc_timestamp(column_or_null(present, 'closedate')) }} as date)
        end as close_date,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'createdAt')) ~ ', ' ~ column_or_null(present, 'createdate') ~ ')') }} as created_at,
        {{ to_utc_timestamp('coalesce(' ~ blank_to_null(column_or_null(present, 'updatedAt')) ~ ', ' ~ column_or_null(present, 'hs_lastmodifieddate') ~ ')') }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'archived')) }}, false) as is_deleted,
        source._loaded_at

    from source
    left join associated_company
        on source._content_hash = associated_company._content_hash
    left join deal_companies
        on {{ hubspot_id('source.id') }} = deal_companies.opportunity_id

),

latest as (

    {{ cx_latest_version('renamed', 'opportunity_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

staged as (

    select
        latest.opportunity_id,
        latest.account_id,
        latest.owner_user_id,
        latest.opportunity_name,
        latest.opportunity_type,
        case
            when lower(latest.opportunity_type) is null then null
            else lower(latest.opportunity_type) in ({{ cx_string_list(new_business_types) }})
        end as is_new_business,
        case
            when lower(latest.opportunity_type) is null then null
            when lower(latest.opportunity_type) in ({{ cx_string_list(new_business_types) }}) then false
            {%- if renewal_types is not none and renewal_types | length == 0 %}
            else false
            {%- elif renewal_types is not none %}
            else lower(latest.opportunity_type) in ({{ cx_string_list(renewal_types) }})
            {%- else %}
            else true
            {%- endif %}
        end as is_renewal,
        -- a stage missing from the pipelines file (deleted since): its id, and the deal's own
        -- hs_is_closed / hs_is_closed_won
        coalesce(deal_stages.stage_label, latest.stage_id) as stage_name,
        cast(null as {{ dbt.type_string() }}) as product,
        latest.amount,
        cast(null as {{ cx_type('bigint') }}) as seats,
        coalesce(deal_stages.is_closed, latest.hs_is_closed, latest.hs_is_closed_won, false) as is_closed,
        coalesce(deal_stages.is_won, latest.hs_is_closed_won, false) as is_won,
        latest.close_date,
        cast(null as date) as subscription_start_date,
        cast(null as date) as subscription_end_date,
        cast(null as {{ dbt.type_string() }}) as contract_id,
        latest.created_at,
        latest.last_modified_at,
        latest.is_deleted,
        latest._loaded_at

    from latest
    left join deal_stages
        on latest.stage_id = deal_stages.stage_id
        and (latest.pipeline_id is null or latest.pipeline_id = deal_stages.pipeline_id)

),

-- an archived deal is not live
final as (

    select * from staged where not is_deleted

)

select * from final
