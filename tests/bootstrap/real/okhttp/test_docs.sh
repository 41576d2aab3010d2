#!/bin/bash

# The website is built using MkDocs with the Material theme.
