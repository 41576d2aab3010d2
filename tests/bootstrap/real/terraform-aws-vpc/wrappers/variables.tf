variable "defaults" {
