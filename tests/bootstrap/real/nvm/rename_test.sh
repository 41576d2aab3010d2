#! /usr/bin/env bash

find_name(){
