"""`python -m zarrlayer`: the command line."""

from __future__ import annotations

from zarrlayer.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
