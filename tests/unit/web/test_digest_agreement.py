"""The page and the server compute the same digest of the same document (the contract's
digestCheck: SHA-256 of the RFC 8785 form — Python `rfc8785`, JavaScript `canonicalize`).

Hypothesis makes JSON documents (floats that print differently in naive serialisers,
big and tiny numbers, unicode keys and text, nesting); node digests them with the
dashboard's own `digester` (web/src/entities.js) and the Python side with `rfc8785`. A
disagreement would be a digest MISMATCH on every check of such a document."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.skips import unavailable
from tracegraph.settings import REPO_ROOT

WEB = REPO_ROOT / "web"

# Reads a JSON array of documents on stdin, prints their digests as a JSON array.
NODE_DIGESTS = """
import { webcrypto } from "node:crypto";
import canonicalize from "canonicalize";
import { digester } from "./src/entities.js";
const digest = digester(canonicalize, webcrypto.subtle);
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", async () => {
  const docs = JSON.parse(input);
  process.stdout.write(JSON.stringify(await Promise.all(docs.map(digest))));
});
"""

# Documents as the server makes them: finite numbers in the range JSON carries exactly
# (integers within 2**53, which both sides read as the same value), any text.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
)
documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=6), inner, max_size=4
        )
    ),
    max_leaves=20,
)


def _node_digests(docs: list[Any]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        unavailable("needs node (Node 20) on PATH")
    if not (WEB / "node_modules" / "canonicalize").is_dir():
        unavailable("front-end packages missing: run `make setup`")
    done = subprocess.run(
        [node, "--input-type=module", "-e", NODE_DIGESTS],
        cwd=WEB,
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _python_digest(doc: Any) -> str:
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def test_known_documents_digest_alike() -> None:
    docs = [
        {"b": [1, 2.5, 1e21], "a": {"z": None, "é": "x"}, "c": 0.1 + 0.2},
        {"costUsd": 0.0001, "durationMs": 1234, "n": -0.0, "tiny": 5e-324, "big": 1.7e308},
        {"chunks": ["t0 ", None, "t2 "], "emoji": "\U0001f600", "tab": "a\tb\u2028"},
        [],
        {},
    ]
    assert _node_digests(docs) == [_python_digest(d) for d in docs]


@settings(max_examples=1, deadline=None, derandomize=True, database=None)
@given(st.lists(documents, min_size=50, max_size=50))
def test_random_documents_digest_alike(docs: list[Any]) -> None:
    # One node process for 50 documents: one example keeps the unit lane fast.
    assert _node_digests(docs) == [_python_digest(d) for d in docs]
