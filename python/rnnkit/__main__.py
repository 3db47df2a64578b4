"""Command line: ``python -m rnnkit bench`` (speed against NumPy), ``python -m rnnkit demo``
(a character model learns Python; the bundled examples)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: python -m rnnkit COMMAND [options]

commands:
  bench   time forward+backward against the best plain NumPy (and PyTorch if installed)
  demo    a char-level RNN learns Python's standard library (~1 min); --example NAME, --list

Run `python -m rnnkit COMMAND --help` for a command's options."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command == "bench":
        from .bench import main as bench_main

        return bench_main(rest)
    if command == "demo":
        from .demo import main as demo_main

        return demo_main(rest)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
