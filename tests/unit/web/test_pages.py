"""The dashboard's pages carry no inline script or style, so the Content-Security-Policy
(tests/integration/test_security_headers.py) can forbid both."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tracegraph.settings import REPO_ROOT
from tracegraph.web.routes import _NO_SETUP


class _InlineFinder(HTMLParser):
    """Inline scripts, event handler attributes and inline styles in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found.extend(f"{tag} {n}=" for n in names if n == "style" or n.startswith("on"))


@pytest.mark.parametrize("name", ["web/index.html", "not-installed page"])
def test_the_pages_carry_no_inline_script_or_style(name: str) -> None:
    html = _NO_SETUP if name == "not-installed page" else (REPO_ROOT / name).read_text()
    finder = _InlineFinder()
    finder.feed(html)
    assert finder.found == []
