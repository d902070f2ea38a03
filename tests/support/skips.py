"""Skips that CI must never take: skipped on a developer's machine, failed under CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str, module_level: bool = False) -> NoReturn:
    """Skip for ``reason`` locally; fail under CI (``CI`` set), whose ``.ci/run``
    installs everything these tests need, so a skip there would hide a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
