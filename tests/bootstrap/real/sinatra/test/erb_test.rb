require_relative 'test_helper'

class ERBTest < Minitest::Test
  def engine
