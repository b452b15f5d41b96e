"""``channels.cli:main``: the ``otp-channels`` console script's entry point (pyproject).

The CLI lives in ``channels.ops.cli`` (the operator tools); this module keeps the entry point
that installed scripts name.
"""

from __future__ import annotations

from .ops.cli import main as main

__all__ = ["main"]
