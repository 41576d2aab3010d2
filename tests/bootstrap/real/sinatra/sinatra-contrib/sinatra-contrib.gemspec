# frozen_string_literal: true

require_relative 'lib/sinatra/contrib/version'

