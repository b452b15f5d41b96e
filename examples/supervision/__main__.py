"""``python -m examples.supervision NAME`` (one_for_one, one_for_all, rest_for_one, escalation, all)."""

from __future__ import annotations

import argparse
import sys

from . import DEMOS, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.supervision", description=__doc__)
    parser.add_argument("name", choices=[*DEMOS, "all"], help="which demo to run")
    args = parser.parse_args()
    run(args.name, lambda line: print(line, flush=True))
    sys.exit(0)


if __name__ == "__main__":
    main()
