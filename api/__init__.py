"""The HTTP side of FlowDesk.

`app.py`, `config.py` and `cli.py` are the composition root: the app factory that wires every
domain, the settings, and the `flask flowdesk ...` commands. `v1/` is the JSON API.
"""
