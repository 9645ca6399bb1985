"""`python -m bench NAME [options]`: run one bench (`python -m bench` lists them; each takes
--help); `python -m bench standard [--compare DIR]` runs the standard set one after the other,
as `make bench` does."""

from __future__ import annotations

import importlib
import sys

#: Each bench: its module in this package, and whether the standard set has it.
BENCHES = {
    "throughput": ("bench.throughput", True),
    "ledger": ("bench.ledger", True),
    "hostile": ("bench.hostile", True),
    "drift-noise": ("bench.drift_noise", False),
    "export-rows": ("bench.export_rows", False),
}
STANDARD = [name for name, (_, standard) in BENCHES.items() if standard]


def summary(module: str) -> str:
    """The first sentence of a bench's docstring."""
    text = " ".join((importlib.import_module(module).__doc__ or "").split())
    return text.split(". ", 1)[0].rstrip(".")


def listing() -> str:
    lines = [f"python -m bench NAME [--help]; the standard set: {', '.join(STANDARD)}", ""]
    for name, (module, _) in BENCHES.items():
        lines.append(f"  {name:12s} {summary(module)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(listing())
        return 0
    name, *options = argv
    if name == "standard":
        return max(main([each, *options]) for each in STANDARD)
    if name not in BENCHES:
        print(f"no bench {name!r}\n\n{listing()}", file=sys.stderr)
        return 2
    return importlib.import_module(BENCHES[name][0]).main(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
