@ECHO OFF

REM Command file for Sphinx documentation

