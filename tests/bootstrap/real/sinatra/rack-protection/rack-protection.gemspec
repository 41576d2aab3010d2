# frozen_string_literal: true

require_relative 'lib/rack/protection/version'

