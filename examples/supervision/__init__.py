"""Supervision demos: each strategy, and intensity escalation, shown on a live process tree.

The demos ship with the package as :mod:`otp.demos` (so ``otp-channels demo`` works from
an installed wheel); this module is their name in the source tree's examples.
"""

from __future__ import annotations

from otp.demos import DEMOS as DEMOS, Worker as Worker, main as main, run as run, run_demo as run_demo

__all__ = ["DEMOS", "Worker", "main", "run", "run_demo"]
