require_relative 'test_helper'
require 'erb'

class BaseTest < Minitest::Test
