# Taken from psake https://github.com/psake/psake

<#
.SYNOPSIS
