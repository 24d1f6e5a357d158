-- One row per portal user (user.get).
{% set cols = raw_source_columns('raw_bitrix24', 'users') %}

with

source as (

    select * from {{ raw_source_or_empty('raw_bitrix24', 'users') }}

),

renamed as (

    select

        ---------- ids
        {{ raw_int(optional_column(cols, 'id')) }} as user_id,
        {{ optional_column(cols, '_dlt_id') }} as user_dlt_id,

        ---------- text
        {{ raw_text(optional_column(cols, 'name')) }} as first_name,
        {{ raw_text(optional_column(cols, 'last_name')) }} as last_name,
        {{ raw_text(optional_column(cols, 'work_position')) }} as work_position,
        {{ raw_text(optional_column(cols, 'time_zone')) }} as time_zone,

        ---------- booleans
        {{ raw_flag(optional_column(cols, 'active')) }} as is_active

    from source

)

select * from renamed
