"""A stand-in for the paid model APIs: an HTTP server on 127.0.0.1, started by a test, that
answers agent CLIs in each provider's real wire format from a script.

``base.FakeAPI`` is the server; each provider's module adds a handler for its endpoints. A
script answers by rule, not by a fixed sequence: the handler counts the tool results already in
the request and returns the next scripted tool call, or the final text once the script is used
up. Every request is kept (method, path, headers, body) so a test can check what the CLI sent.
"""
