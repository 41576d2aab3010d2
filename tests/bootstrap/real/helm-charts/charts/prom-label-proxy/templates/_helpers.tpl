{{/*
Expand the name of the chart.
*/}}
{{- define "prom-label-proxy.name" -}}
