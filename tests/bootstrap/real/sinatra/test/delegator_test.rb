require_relative 'test_helper'

class DelegatorTest < Minitest::Test
