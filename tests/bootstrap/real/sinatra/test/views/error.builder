xml.error do
  raise "goodbye"
end
