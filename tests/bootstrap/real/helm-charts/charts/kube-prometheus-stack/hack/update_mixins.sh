#!/usr/bin/env bash

set -euo pipefail

if ! which jb &>/dev/null; then
