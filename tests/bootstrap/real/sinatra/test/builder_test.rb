require_relative 'test_helper'

begin
require 'builder'

