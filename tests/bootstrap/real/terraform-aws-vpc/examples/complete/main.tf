provider "aws" {
  region = local.region
}

