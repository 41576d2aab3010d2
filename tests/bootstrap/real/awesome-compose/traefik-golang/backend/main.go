package main

import (
	"fmt"
	"log"
	"net/http"
)

