package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io/ioutil"
