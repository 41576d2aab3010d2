with source as (

    {#-
