variable "create_vpc" {
