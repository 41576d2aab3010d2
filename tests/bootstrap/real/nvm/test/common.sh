# Runs a command once and captures stdout and exit code.
