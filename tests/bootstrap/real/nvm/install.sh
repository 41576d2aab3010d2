#!/usr/bin/env bash

{ # this ensures the entire script is downloaded #

