{{/* vim: set filetype=mustache: */}}
{{/*
Expand the name of the chart.
*/}}
