-- One row per amoCRM lead (amoCRM's "lead" is the deal). Unix seconds -> UTC instants; won/lost from
-- the system statuses 142/143, which every pipeline shares. Empty until amoCRM is configured.
{% set cols = raw_source_columns('raw_amocrm', 'leads') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_amocrm', 'leads') }}

),

renamed as (

    select

        ---------- ids
        cast({{ optional_column(cols, 'id', 'bigint') }} as bigint) as lead_id,
        cast({{ optional_column(cols, 'pipeline_id', 'bigint') }} as bigint) as pipeline_id,
        cast({{ optional_column(cols, 'status_id', 'bigint') }} as bigint) as status_id,
        cast({{ optional_column(cols, 'responsible_user_id', 'bigint') }} as bigint) as manager_id,
        cast({{ optional_column(cols, 'company_id', 'bigint') }} as bigint) as company_id,
        cast({{ optional_column(cols, 'loss_reason_id', 'bigint') }} as bigint) as loss_reason_id,
        cast({{ optional_column(cols, 'source_id', 'bigint') }} as bigint) as source_id,
        cast({{ optional_column(cols, 'created_by', 'bigint') }} as bigint) as created_by_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'name')) }} as lead_name,
        {{ raw_text(optional_column(cols, 'loss_reason_name')) }} as lost_reason,
        case
            when cast({{ optional_column(cols, 'status_id', 'bigint') }} as bigint) = 142 then 'won'
            when cast({{ optional_column(cols, 'status_id', 'bigint') }} as bigint) = 143 then 'lost'
            else 'open'
        end as status,

        ---------- numerics (amoCRM prices are whole numbers in the account's currency)
        cast({{ optional_column(cols, 'price', 'bigint') }} as numeric(18, 2)) as amount,

        ---------- booleans
        coalesce(cast({{ optional_column(cols, 'is_deleted', 'boolean') }} as boolean), false) as is_deleted,

        ---------- timestamps (UTC instants)
        {{ unix_to_timestamptz(optional_column(cols, 'created_at', 'bigint')) }} as created_at,
        {{ unix_to_timestamptz(optional_column(cols, 'updated_at', 'bigint')) }} as updated_at,
        {{ unix_to_timestamptz(optional_column(cols, 'closed_at', 'bigint')) }} as closed_at

    from source

)

select * from renamed
