"""Write (or ``--check``) ``schema/schema.graphql`` from the code.

python -m tracegraph.api.graphql.export [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from tracegraph.settings import REPO_ROOT

SDL_PATH = REPO_ROOT / "schema" / "schema.graphql"


def sdl() -> str:
    from tracegraph.api.graphql.schema import build_schema
    from tracegraph.settings import Settings

    return build_schema(Settings()).as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = sdl()
    path = Path(SDL_PATH)
    if "--check" in args:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is stale; run: python -m tracegraph.api.graphql.export", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
