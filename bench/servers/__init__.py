"""Servers under test: otp-channels (project venv) and the peers (run from ``.bench-venv``).

The peer modules are scripts started with ``.bench-venv/bin/python bench/servers/<name>.py``;
they import third-party packages that are not in the project venv (and Django Channels'
``channels``, whose name collides with ours), so they never import from this package.
"""
