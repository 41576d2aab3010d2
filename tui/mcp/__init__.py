"""``uet mcp``: the Model Context Protocol server, a face like the command line and the dashboard.
It imports the MCP SDK, so nothing imports this package but ``uet mcp`` itself."""
