#!/bin/bash

set -e

