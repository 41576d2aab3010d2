output "vpc_id" {
  description = "The ID of the VPC"
