with source as (
    
    {#-
