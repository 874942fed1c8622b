"""What the examples share: the connection settings from the environment, and their flags."""

from __future__ import annotations

import argparse
import os
import sys
from typing import cast

import commy


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--count", type=int, default=None, help="stop after this many (default: never)")
    p.add_argument("--transport", choices=["auto", "local", "remote"], default="auto")
    return p


def settings() -> tuple[str, str, str]:
    """``COMMY_URL`` (default ``ws://127.0.0.1:8080``), ``COMMY_TENANT`` and ``COMMY_KEY``."""
    missing = [name for name in ("COMMY_TENANT", "COMMY_KEY") if not os.environ.get(name)]
    if missing:
        sys.exit(f"set {' and '.join(missing)} (see clients/python/README.md)")
    return os.environ.get("COMMY_URL", "ws://127.0.0.1:8080"), os.environ["COMMY_TENANT"], os.environ["COMMY_KEY"]


def transport(choice: str) -> commy.Transport:
    """The ``--transport`` flag (argparse has checked it is one of the three)."""
    return cast(commy.Transport, choice)


def say(line: str) -> None:
    """Prints a line at once (the examples' output is read line by line by the smoke test)."""
    print(line, flush=True)


__all__ = ["commy", "parser", "say", "settings", "transport"]
