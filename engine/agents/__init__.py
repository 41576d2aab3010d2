"""AI coding agents as tools: how each agent CLI is started for one task, and how its output is
read back (the final message, tokens and dollars, readable lines for the log).

``base`` holds the contract every agent family implements; ``catalog`` the built-in tool
definitions (claude, codex, gemini, aider, opencode); one module per family holds its driver
(command line, environment, config files in the attempt's own home) and its stream parser.
"""
