{{/*
Expand the name of the chart.
*/}}
