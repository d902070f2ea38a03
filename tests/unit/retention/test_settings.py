"""Retention settings: bad values stop start-up with their names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tracegraph.settings import Settings


def test_bad_retention_settings_stop_start_up_with_their_names() -> None:
    with pytest.raises(ValidationError, match="retention_text_days"):
        Settings(retention_text_days=-1)
    with pytest.raises(ValidationError, match="retention_batch_size"):
        Settings(retention_batch_size=0)
    assert not Settings().retention_events_days  # kept forever unless asked
