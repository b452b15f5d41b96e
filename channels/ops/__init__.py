"""Operator tools: the ``otp-channels`` CLI (``cli``), the node's control socket (``_control``),
the observer page (``_observer``; public as ``channels.observer``) and the worker processes
(``_workers``). The top layer: nothing else in ``channels`` imports it except the package's
``__init__`` (``channels.serve``) and ``channels.observer``."""

from __future__ import annotations
