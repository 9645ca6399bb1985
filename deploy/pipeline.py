"""deploy/clouddeploy.yaml as `make pipeline` applies it: the project in place of PROJECT_ID,
and, with --gates=on, the approval before prod and the release hours turned on.

    python3 -m deploy.pipeline --project=PROJECT [--gates=on] > pipeline.yaml

A line that ends with `# gates: VALUE` is a gate: its value is the one written before the comment
(off) or VALUE (on). One setting turns both gates on or off together.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

PIPELINE = Path(__file__).resolve().parent / "clouddeploy.yaml"
PLACEHOLDER = re.compile(r"\bPROJECT_ID\b")
GATE = re.compile(r"^(?P<key>\s*[\w-]+:) (?P<off>\S+)\s+# gates: (?P<on>\S+)$", re.M)
#: Google's rule for a project ID.
PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")


def pipeline(text: str, project: str, gates: bool) -> str:
    if not PROJECT.fullmatch(project):
        raise ValueError(f"{project!r} is not a project ID")
    text = PLACEHOLDER.sub(project, text)
    return GATE.sub(lambda m: f"{m['key']} {m['on' if gates else 'off']}", text)


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--project", required=True)
    parse.add_argument("--gates", choices=["on", "off"], default="off")
    args = parse.parse_args(argv)
    try:
        sys.stdout.write(
            pipeline(PIPELINE.read_text(encoding="utf-8"), args.project, args.gates == "on")
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
