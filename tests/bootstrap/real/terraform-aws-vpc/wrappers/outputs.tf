output "wrapper" {
  description = "Map of outputs of a wrapper."
