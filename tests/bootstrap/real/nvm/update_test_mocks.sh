#!/usr/bin/env bash

set -e

echo 'Updating test mocks...'

