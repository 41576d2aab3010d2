# Node Version Manager
# Implemented as a POSIX-compliant function
