#!/usr/bin/env python3
"""The dependency locks in requirements/: make them (`make lock`) and check them.

    python3 generators/lock.py compile [--upgrade all|A,B]  refresh the locks (uv, then pip checks)
    python3 generators/lock.py check                       fail unless the locks are up to date
    python3 generators/lock.py compare LOCK < FREEZE       an install's name==version lines vs LOCK

The locks, each with every pin's hashes, made by uv from pyproject.toml:
    requirements/develop.txt   serving + the `train` and `test` extras: what `make test` installs
    requirements/serving.txt   `pip install .`: what the image and `make serve` install; each pin
                               is develop.txt's: the service runs the versions the tests passed with
    requirements/build.txt     pip and the build backend (requirements/build.in), to install with
    requirements/inputs.sha256 the digest of what they were made from (see `inputs`)

Standard library only, so that `check` runs before anything is installed (Python 3.11+).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
DEVELOP = REQUIREMENTS / "develop.txt"
SERVING = REQUIREMENTS / "serving.txt"
BUILD = REQUIREMENTS / "build.txt"
LOCKS = (BUILD, SERVING, DEVELOP)
#: Inputs beside pyproject.toml: pip and the build backend; constraints that only uv needs.
BUILD_IN = REQUIREMENTS / "build.in"
CONSTRAINTS_IN = REQUIREMENTS / "constraints.in"
DIGEST = REQUIREMENTS / "inputs.sha256"
#: What rewrites the locks, as each of them and inputs.sha256 says in its header.
COMMAND = "make lock"
REFRESH = f"run `{COMMAND}` (docs/dependencies.md)"

#: Where every lock must install: Cloud Build's python:3.12-slim, the 3.11 stand-in and laptops,
#: on both Linux architectures. Wheels for glibc 2.36 (Debian 12, the oldest base) or older.
TARGETS = [(python, arch) for python in ("3.11", "3.12") for arch in ("x86_64", "aarch64")]
GLIBC_MINOR = 36

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*(.+?))?\s*\\?\s*$")


def normalize(name: str) -> str:
    """A distribution's name as PyPI compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> list[str]:
    lines = (
        line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if line]


def inputs(root: Path = ROOT) -> dict:
    """What the locks are made from: pyproject.toml's dependency declarations (not its comments,
    its version or its tool settings) and the two input files in requirements/."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    return {
        "requires-python": project.get("requires-python", ""),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system": pyproject.get("build-system", {}).get("requires", []),
        "build.in": _requirement_lines(root / BUILD_IN.relative_to(ROOT)),
        "constraints.in": _requirement_lines(root / CONSTRAINTS_IN.relative_to(ROOT)),
    }


def inputs_digest(root: Path = ROOT) -> str:
    canonical = json.dumps(inputs(root), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def digest_file() -> str:
    """requirements/inputs.sha256 as `make lock` writes it, for these inputs."""
    return (
        "# sha256 of the locks' inputs (generators/lock.py `inputs`): pyproject.toml's dependency\n"
        f"# declarations, build.in and constraints.in. Written by `{COMMAND}`.\n"
        f"{inputs_digest()}\n"
    )


def recorded_digest() -> str | None:
    if not DIGEST.exists():
        return None
    lines = [line for line in DIGEST.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


def pins(path: Path) -> list[tuple[str, str, str | None]]:
    """Each pin of a lock: (normalized name, version, environment marker or None)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:1] in ("", " ", "#", "-"):
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(f"{path.name}: not an exact pin: {line!r}")
        name, version, marker = match.groups()
        found.append((normalize(name), version, marker))
    return found


def check() -> int:
    recorded, current = recorded_digest(), inputs_digest()
    if recorded != current:
        print(
            f"requirements/ is stale against pyproject.toml (locked from {recorded}, "
            f"now {current}): {REFRESH}",
            file=sys.stderr,
        )
        return 1
    return 0


def compare(lock: Path, freeze: str) -> int:
    """Compare an install's `name==version` lines (the project itself left out) with a lock:
    every installed distribution must be pinned there at that version, and every pin without an
    environment marker installed. Prints the set's digest: sha256 of its sorted lines."""
    installed = {}
    for line in freeze.splitlines():
        if "==" in line:
            name, version = line.strip().split("==", 1)
            if normalize(name) != "soulsync":
                installed[normalize(name)] = version
    locked: dict[str, set[str]] = {}
    for name, version, _ in pins(lock):
        locked.setdefault(name, set()).add(version)
    problems = [
        f"{name}=={version} is installed, the lock says {sorted(locked.get(name, [])) or 'nothing'}"
        for name, version in sorted(installed.items())
        if version not in locked.get(name, set())
    ]
    problems += [
        f"{name}=={version} is locked but not installed"
        for name, version, marker in pins(lock)
        if marker is None and name not in installed
    ]
    text = "".join(f"{name}=={version}\n" for name, version in sorted(installed.items()))
    digest = hashlib.sha256(text.encode()).hexdigest()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            f"the install differs from {lock.relative_to(ROOT)} (sha256 {digest})", file=sys.stderr
        )
        return 1
    print(
        f"dependencies: {len(installed)} packages, exactly as locked in "
        f"{lock.relative_to(ROOT)}; sha256 {digest}"
    )
    return 0


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else "uv"


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def _verify(lock: Path, python: str, arch: str) -> str | None:
    """None if pip (what installs the locks) finds a wheel of every pin for this Python and
    architecture, else pip's complaint. A dry run: it reads the index, downloads no wheel."""
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{legacy}_{arch}" for legacy in ("2014", "2010", "1")]
    with tempfile.TemporaryDirectory() as target:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
             "--require-hashes", "--only-binary", ":all:", "--target", target,
             "--python-version", python, *(f"--platform={p}" for p in platforms),
             "-r", str(lock)],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
    if result.returncode == 0:
        return None
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    return "\n".join(errors or result.stderr.splitlines()[-5:])


def compile_locks(upgrade: str | None) -> int:
    requires_python = inputs()["requires-python"]
    if not re.fullmatch(r">=\s*3\.\d+", requires_python):
        print(f"requires-python {requires_python!r}: expected >=3.N", file=sys.stderr)
        return 1
    common = [
        _uv(), "pip", "compile", "--quiet", "--universal", "--generate-hashes",
        "--python-version", requires_python.removeprefix(">=").strip(), "--fork-strategy", "fewest",
        f"--custom-compile-command={COMMAND}",
    ]  # fmt: skip
    if upgrade == "all":
        common.append("--upgrade")
    elif upgrade:
        common += [f"--upgrade-package={name.strip()}" for name in upgrade.split(",")]
    develop, serving, build = (str(path.relative_to(ROOT)) for path in (DEVELOP, SERVING, BUILD))
    constraints, build_in = (str(path.relative_to(ROOT)) for path in (CONSTRAINTS_IN, BUILD_IN))
    # The whole set first; then the serving install and the tools, each held to its versions.
    extras = ["--extra=train", "--extra=test"]
    _run([*common, "pyproject.toml", *extras, "-c", constraints, "-o", develop])
    _run([*common, "pyproject.toml", "-c", develop, "-o", serving])
    _run([*common, build_in, "-c", develop, "-o", build])

    # uv ignores upper bounds of Requires-Python and some pins may lack a wheel for a target:
    # pip, which installs the locks, must find each pin everywhere the project runs.
    jobs = [(lock, python, arch) for lock in LOCKS for python, arch in TARGETS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = pool.map(lambda job: _verify(*job), jobs)
        failures = {job: error for job, error in zip(jobs, errors, strict=True) if error}
    for (lock, python, arch), error in failures.items():
        print(f"{lock.relative_to(ROOT)} does not install on Python {python}, {arch}:\n{error}")
    if failures:
        print(
            "The locks are not usable, and inputs.sha256 is left as it was. A version that "
            '"requires a different python" passed uv (it ignores upper bounds of Requires-Python): '
            f"hold it back in requirements/constraints.in, then run `{COMMAND}` again.",
            file=sys.stderr,
        )
        return 1
    pythons = " and ".join(sorted({python for python, _ in TARGETS}))
    arches = " and ".join(sorted({arch for _, arch in TARGETS}))
    print(f"checked with pip: each lock installs on Python {pythons}, on {arches} Linux")
    DIGEST.write_text(digest_file(), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_ = commands.add_parser("compile", help="refresh the locks from pyproject.toml")
    compile_.add_argument("--upgrade", help="`all`, or packages (a,b) to move to their newest")
    commands.add_parser("check", help="fail unless the locks were made from these inputs")
    commands.add_parser("digest", help="print the digest of the inputs")
    compare_ = commands.add_parser("compare", help="stdin's name==version lines against LOCK")
    compare_.add_argument("lock", type=Path)
    args = parser.parse_args(argv)
    if args.command == "compile":
        return compile_locks(args.upgrade)
    if args.command == "check":
        return check()
    if args.command == "digest":
        print(inputs_digest())
        return 0
    return compare(args.lock.resolve(), sys.stdin.read())


if __name__ == "__main__":
    sys.exit(main())
