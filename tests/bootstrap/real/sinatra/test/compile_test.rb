require_relative 'test_helper'

class CompileTest < Minitest::Test
