"""Operator tools: the node's control socket (``_control``, and ``channels.serve``), the
observer page (``_observer``; public as ``channels.observer``) and the worker processes
(``_workers``). The ``otp-channels`` CLI that drives them is ``channels.cli``, kept at the
top as the console script's entry point. Only the public modules import this package."""

from __future__ import annotations
