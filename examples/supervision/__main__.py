"""``python -m examples.supervision NAME`` (one_for_one, one_for_all, rest_for_one, escalation, all)."""

from __future__ import annotations

from otp.demos import main

if __name__ == "__main__":
    main(prog="python -m examples.supervision")
