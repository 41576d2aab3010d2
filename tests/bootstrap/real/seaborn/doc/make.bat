@ECHO OFF

pushd %~dp0

REM Command file for Sphinx documentation

