"""Execute the scripts that comprise the example gallery in the online docs."""
