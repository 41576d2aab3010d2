locals {
  redshift_route_table_ids = aws_route_table.redshift[*].id
