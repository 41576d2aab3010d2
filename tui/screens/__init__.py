"""One screen per module, each with its TCSS beside it."""
