"""The price table behind cost estimates (ingest/pricing.py): built-in list prices, a
file that overrides or adds entries, and clear errors for a file that cannot be used."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tracegraph.ingest.pricing import DEFAULT_PRICES, load_prices


def test_without_a_file_the_built_in_prices_apply() -> None:
    prices = load_prices(None)
    assert prices == DEFAULT_PRICES
    assert prices["openai/gpt-4o"] == {"input": 0.0025, "output": 0.01}
    assert prices["local/*"] == {"input": 0.0, "output": 0.0}  # self-hosted: free
    prices["openai/gpt-4o"] = {"input": 1.0, "output": 1.0}
    assert load_prices(None)["openai/gpt-4o"]["input"] == 0.0025  # a copy each time


def test_every_built_in_entry_has_both_prices_per_1k_tokens() -> None:
    for key, entry in DEFAULT_PRICES.items():
        assert "/" in key, key
        assert set(entry) == {"input", "output"}, key
        assert all(0 <= v < 1 for v in entry.values()), key  # USD per 1,000 tokens


def test_a_file_overrides_and_adds_entries_as_floats(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(
        orjson.dumps(
            {
                "openai/gpt-4o": {"input": 1, "output": "2.5"},
                "acme/*": {"input": 0.5, "output": 0.75, "note": "ignored"},
            }
        )
    )
    prices = load_prices(path)
    assert prices["openai/gpt-4o"] == {"input": 1.0, "output": 2.5}
    assert prices["acme/*"] == {"input": 0.5, "output": 0.75}
    assert prices["anthropic/claude-opus-4"] == DEFAULT_PRICES["anthropic/claude-opus-4"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "cannot read price table"),
        (b'{"gpt-4o": {"input": 1, "output": 1}}', "'gpt-4o' must be 'provider/model'"),
        (b'{"openai/gpt-4o": [1, 2]}', "'openai/gpt-4o' must be 'provider/model'"),
        (b'[["openai/gpt-4o", 1]]', "must be a JSON object"),
        (b'{"openai/gpt-4o": {"output": 1}}', "'openai/gpt-4o' needs 'input' and 'output'"),
        (b'{"openai/x": {"input": "cheap", "output": 1}}', "'openai/x': 'input' must be a number"),
        (b'{"openai/x": {"input": -1, "output": 1}}', "'openai/x': 'input' must be a number >= 0"),
    ],
)
def test_an_unusable_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_prices(path)


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(ValueError, match=f"cannot read price table {missing}"):
        load_prices(missing)
