#!/usr/bin/env bash

HELM_RELEASE_NAME=prom-op
CHART=./
NAMESPACE=monitoring
