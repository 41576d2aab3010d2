{{/* vim: set filetype=mustache: */}}
