"""The GraphiQL page's third-party files: pinned npm builds, committed in ``static/`` so that
the page works offline and ``make run`` needs no Node.js.

``python -m deskgraph.graphiql.assets verify`` checks the committed files against the pins
below; ``python -m deskgraph.graphiql.assets fetch`` (``make graphiql-assets``) downloads the
pinned packages with ``npm pack``, checks every file's sha256 and only then writes them into
``static/``. To move to another version, change it here, run ``fetch``: it names the sha256 it
found for each file that no longer matches, to put here (and in ``static/README.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Asset:
    file: str  # its name in static/
    package: str
    version: str
    source: str  # its path inside the package's npm tarball
    sha256: str


ASSETS = (
    Asset(
        "react.production.min.js",
        "react",
        "18.3.1",
        "package/umd/react.production.min.js",
        "d949f1c3687aedadcedac85261865f29b17cd273997e7f6b2bfc53b2f9d4c4dd",
    ),
    Asset(
        "react-dom.production.min.js",
        "react-dom",
        "18.3.1",
        "package/umd/react-dom.production.min.js",
        "35f4f974f4b2bcd44da73963347f8952e341f83909e4498227d4e26b98f66f0d",
    ),
    Asset(
        "graphiql.min.js",
        "graphiql",
        "3.9.0",
        "package/graphiql.min.js",
        "a330a2be1d2389486840a9d0a834767d9083a23f105879e0de54e4fce83d3513",
    ),
    Asset(
        "graphiql.min.css",
        "graphiql",
        "3.9.0",
        "package/graphiql.min.css",
        "bdddd50aac5bdb0edd83e5c862ba2fed9db2964e4c75d4655ab62b0a7d5bd730",
    ),
    # Both are MIT-licensed: their notices travel with the copies (react-dom's is the same text).
    Asset(
        "LICENSE.react",
        "react",
        "18.3.1",
        "package/LICENSE",
        "52412d7bc7ce4157ea628bbaacb8829e0a9cb3c58f57f99176126bc8cf2bfc85",
    ),
    Asset(
        "LICENSE.graphiql",
        "graphiql",
        "3.9.0",
        "package/LICENSE",
        "4b18fbe55c4e8f9169cb702be138f4d858a2dad920c39857204ffdc9c1c9fdc4",
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mismatches(directory: Path = STATIC) -> list[str]:
    """What is wrong with the committed files: one line per missing or altered file."""
    problems = []
    for asset in ASSETS:
        path = directory / asset.file
        if not path.is_file():
            problems.append(f"{asset.file}: missing")
        elif (found := sha256(path.read_bytes())) != asset.sha256:
            problems.append(f"{asset.file}: sha256 {found}, pinned {asset.sha256}")
    return problems


def fetch(directory: Path = STATIC) -> list[str]:
    """Download the pinned packages with npm, check each file, write them when all match."""
    contents: dict[str, bytes] = {}
    problems = []
    with tempfile.TemporaryDirectory() as scratch:
        tarballs: dict[str, Path] = {}
        for spec in sorted({f"{asset.package}@{asset.version}" for asset in ASSETS}):
            packed = subprocess.run(
                ["npm", "pack", spec, "--json", "--pack-destination", scratch],
                capture_output=True,
                text=True,
                check=True,
            )
            tarballs[spec] = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
        for asset in ASSETS:
            with tarfile.open(tarballs[f"{asset.package}@{asset.version}"]) as tarball:
                member = tarball.extractfile(asset.source)
                if member is None:
                    raise LookupError(f"{asset.package}@{asset.version} has no {asset.source}")
                data = member.read()
            if (found := sha256(data)) != asset.sha256:
                problems.append(
                    f"{asset.file}: {asset.package}@{asset.version} {asset.source} has sha256 "
                    f"{found}, pinned {asset.sha256}"
                )
            contents[asset.file] = data
    if not problems:
        for name, data in contents.items():
            (directory / name).write_bytes(data)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deskgraph.graphiql.assets", description=__doc__
    )
    parser.add_argument("command", choices=["fetch", "verify"])
    args = parser.parse_args(argv)
    problems = fetch() if args.command == "fetch" else mismatches()
    for problem in problems:
        print(f"graphiql-assets: {problem}", file=sys.stderr)
    if problems:
        return 1
    total = sum((STATIC / asset.file).stat().st_size for asset in ASSETS)
    print(f"graphiql-assets: {len(ASSETS)} files match their pins ({total:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
