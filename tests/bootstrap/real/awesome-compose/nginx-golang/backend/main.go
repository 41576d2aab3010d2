package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"
