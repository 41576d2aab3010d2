const http = require("http");

const options = {
  timeout: 2000,
