require_relative 'test_helper'

class BaseTest < Minitest::Test
