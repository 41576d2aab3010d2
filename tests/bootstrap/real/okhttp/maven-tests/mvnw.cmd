<# : batch portion
