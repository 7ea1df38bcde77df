{%- set present = source_column_names('salesforce', 'opportunity') -%}
{#- Type as an open set, classified by the cxloop.yaml churn Type lists (lower-cased by
    ProjectConfig.churn_methods); a null Type is decided by the account's history downstream. -#}
{%- set churn = var('churn_methods', {}).get('salesforce', {}) -%}
{%- set new_business_types = churn.get('new_business_types') or ['new customer'] -%}
{%- set renewal_types = churn.get('renewal_types') -%}
{%- set type_key = 'lower(' ~ blank_to_null(column_or_null(present, 'Type')) ~ ')' -%}
with

source as (

    select * from {{ source('salesforce', 'opportunity') }}

),

renamed as (

    select
        {{ blank_to_null('"Id"') }} as opportunity_id,
        {{ blank_to_null('"AccountId"') }} as account_id,
        {{ blank_to_null(column_or_null(present, 'OwnerId')) }} as owner_user_id,
        {{ blank_to_null(column_or_null(present, 'Name')) }} as opportunity_name,
        {{ blank_to_null(column_or_null(present, 'Type')) }} as opportunity_type,
        case
            when {{ type_key }} is null then null
            else {{ type_key }} in ({{ cx_string_list(new_business_types) }})
        end as is_new_business,
        case
            when {{ type_key }} is null then null
            when {{ type_key }} in ({{ cx_string_list(new_business_types) }}) then false
            {%- if renewal_types is not none and renewal_types | length == 0 %}
            else false
            {%- elif renewal_types is not none %}
            else {{ type_key }} in ({{ cx_string_list(renewal_types) }})
            {%- else %}
            else true
            {%- endif %}
        end as is_renewal,
        {{ blank_to_null('"StageName"') }} as stage_name,
        {{ blank_to_null(column_or_null(present, 'Product__c')) }} as product,
        {{ to_numeric(column_or_null(present, 'Amount')) }} as amount,
        -- seats: the custom Seats__c, else the standard TotalOpportunityQuantity
        coalesce(
            {{ to_integer(column_or_null(present, 'Seats__c')) }},
            cast(round({{ to_numeric(column_or_null(present, 'TotalOpportunityQuantity')) }}) as {{ cx_type('bigint') }})
        ) as seats,
        coalesce({{ to_boolean('"IsClosed"') }}, false) as is_closed,
        coalesce({{ to_boolean('"IsWon"') }}, false) as is_won,
        {{ to_date(column_or_null(present, 'CloseDate')) }} as close_date,
        {{ to_date(column_or_null(present, 'Subscription_Start_Date__c')) }} as subscription_start_date,
        {{ to_date(column_or_null(present, 'Subscription_End_Date__c')) }} as subscription_end_date,
        {{ blank_to_null(column_or_null(present, 'ContractId')) }} as contract_id,
        {{ to_utc_timestamp(column_or_null(present, 'CreatedDate')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'LastModifiedDate')) }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'IsDeleted')) }}, false) as is_deleted,
        _loaded_at

    from source

),

-- one row per opportunity_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'opportunity_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a record whose latest version is deleted (IsDeleted in a queryAll export) is not live
final as (

    select * from latest where not is_deleted

)

select * from final
