-- One row per Salesforce account with its Zendesk organization: by external_id = Account Id
-- (18 characters, or 15) first, else by a domain in domain_names equal to the account
-- website's domain.
with

accounts as (

    select * from {{ ref('int_crm_accounts__unioned') }}

),

organizations as (

    select * from {{ ref('stg_zendesk__organizations') }}

),

organization_domains as (

    select * from {{ ref('stg_zendesk__organization_domains') }}

),

-- The 18-character Account Id in any case (account_id is always 18: landing), or its
-- case-sensitive 15-character form (an id copied from the Salesforce UI). Two equality joins,
-- not one join on `a or b`: an `or` join compares every account with every organization
-- (15 s at scale 10); no pair matches both (18 vs 15 characters).
external_id_pairs as (

    select accounts.account_id, organizations.organization_id
    from accounts
    inner join organizations
        on lower(organizations.external_id) = lower(accounts.account_id)

    union all

    select accounts.account_id, organizations.organization_id
    from accounts
    inner join organizations
        on organizations.external_id = substr(accounts.account_id, 1, 15)
        and length(organizations.external_id) = 15

),

by_external_id as (

    select
        account_id,
        organization_id,
        'external_id' as match_rule,
        1 as rule_rank

    from external_id_pairs

),

by_domain as (

    select
        accounts.account_id,
        organization_domains.organization_id,
        'domain' as match_rule,
        2 as rule_rank

    from accounts
    inner join organization_domains
        on organization_domains.domain = accounts.website_domain

),

candidates as (

    select * from by_external_id
    union all
    select * from by_domain

),

-- An organization belongs to one account: its best rule, then the lowest account id.
best_account_per_organization as (

    select
        *,
        row_number() over (
            partition by organization_id order by rule_rank, account_id
        ) as account_rank

    from candidates

),

-- An account keeps one organization: its best rule, then the lowest organization id.
best_organization_per_account as (

    select
        *,
        row_number() over (
            partition by account_id order by rule_rank, organization_id
        ) as organization_rank

    from best_account_per_organization
    where account_rank = 1

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.account_type,
        accounts.industry,
        accounts.region,
        accounts.plan,
        accounts.billing_country,
        accounts.website_domain,
        accounts.owner_user_id,
        accounts.created_at,
        matched.organization_id as zendesk_organization_id,
        coalesce(matched.match_rule, 'unmatched') as match_rule

    from accounts
    left join best_organization_per_account as matched
        on matched.account_id = accounts.account_id
        and matched.organization_rank = 1

)

select * from final
