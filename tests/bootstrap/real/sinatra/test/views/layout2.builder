xml.layout do
  xml << yield
end
