provider "aws" {
  region = local.region
}

locals {
