{{/*
Expand the name of the chart.
*/}}
{{- define "jiralert.name" -}}
