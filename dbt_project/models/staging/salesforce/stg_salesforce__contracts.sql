{%- set present = source_column_names('salesforce', 'contract') -%}
with

source as (

    select * from {{ source('salesforce', 'contract') }}

),

renamed as (

    select
        {{ blank_to_null('"Id"') }} as contract_id,
        {{ blank_to_null('"AccountId"') }} as account_id,
        {{ blank_to_null(column_or_null(present, 'OwnerId')) }} as owner_user_id,
        {{ blank_to_null(column_or_null(present, 'ContractNumber')) }} as contract_number,
        {{ blank_to_null(column_or_null(present, 'Status')) }} as status,
        {{ blank_to_null(column_or_null(present, 'StatusCode')) }} as status_code,
        -- the status category: StatusCode when exported, else the standard Status labels
        coalesce(
            {{ blank_to_null(column_or_null(present, 'StatusCode')) }},
            case {{ blank_to_null(column_or_null(present, 'Status')) }}
                when 'Draft' then 'Draft'
                when 'In Approval Process' then 'InApproval'
                when 'Activated' then 'Activated'
            end
        ) as status_category,
        {{ to_date(column_or_null(present, 'StartDate')) }} as start_date,
        {{ to_date(column_or_null(present, 'EndDate')) }} as end_date,
        {{ to_integer(column_or_null(present, 'ContractTerm')) }} as contract_term_months,
        {{ to_utc_timestamp(column_or_null(present, 'ActivatedDate')) }} as activated_at,
        {{ to_utc_timestamp(column_or_null(present, 'CreatedDate')) }} as created_at,
        {{ to_utc_timestamp(column_or_null(present, 'LastModifiedDate')) }} as last_modified_at,
        coalesce({{ to_boolean(column_or_null(present, 'IsDeleted')) }}, false) as is_deleted,
        _loaded_at

    from source

),

-- one row per contract_id, its latest version (raw keeps every version landed)
latest as (

    {{ cx_latest_version('renamed', 'contract_id', 'last_modified_at desc nulls last, _loaded_at desc') }}

),

-- a record whose latest version is deleted (IsDeleted in a queryAll export) is not live
final as (

    select * from latest where not is_deleted

)

select * from final
