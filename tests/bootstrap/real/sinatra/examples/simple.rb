#!/usr/bin/env ruby -I ../lib -I lib
# frozen_string_literal: true

