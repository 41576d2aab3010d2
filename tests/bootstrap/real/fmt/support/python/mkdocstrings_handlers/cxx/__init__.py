# A basic mkdocstrings handler for {fmt}.
