"""`python -m tracegraph.events.schema_export [--check] [--output PATH]`.

Writes schema/events.schema.json (relative to the working directory, the repository root);
with --check, writes nothing and exits 1 when the file is missing or stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracegraph.events.schema import render_event_json_schema

DEFAULT_PATH = Path("schema/events.schema.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tracegraph.events.schema_export",
        description="Write the JSON Schema of Tracegraph events.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH, help="schema file path")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    path: Path = args.output
    content = render_event_json_schema()
    if args.check:
        if not path.is_file() or path.read_bytes() != content:
            print(
                f"{path} is stale: run `python -m tracegraph.events.schema_export` to regenerate",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
