"""
Django settings for example project.

