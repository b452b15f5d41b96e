"""``python -m examples.client``: see ``examples.client``."""

from __future__ import annotations

from . import main

if __name__ == "__main__":
    main()
