"""Entry point: ``python -m bench SCENARIO [--quick] [--json FILE]``."""

from __future__ import annotations

from bench._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
