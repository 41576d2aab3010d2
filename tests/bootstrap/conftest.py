"""The trimmed copies of real repositories under real/ are data: their test modules and
conftest files are never collected or imported."""

collect_ignore_glob = ["real/*"]
