#!/usr/bin/env bash

# Make sure sort works predictably.
export LC_ALL=C

