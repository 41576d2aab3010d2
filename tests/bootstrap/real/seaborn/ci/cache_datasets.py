"""
Cache test datasets before running tests / building docs.

