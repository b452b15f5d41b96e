"""Benchmark harness for otp-channels and its Python peers (``python -m bench SCENARIO``).

Scenarios: ``fanout``, ``capacity``, ``roundtrip``, ``otp`` (or ``all``). Loopback only; every
load is bounded in count and time. See ``bench/_cli.py`` for the options and BENCHMARKS.md for
the method and the figures.
"""
