"""Price table used to estimate the cost of LLM calls that report none.

USD per 1,000 tokens, keyed ``provider/model`` (or ``provider/*`` as a fallback for a
provider). The defaults are list prices at the time of writing; override them with a
JSON file named by ``TRACEGRAPH_PRICE_TABLE_PATH`` holding the same shape.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "openai/gpt-4o": {"input": 0.0025, "output": 0.01},
    "openai/gpt-4o-mini": {"input": 0.00015, "output": 0.0006},
    "openai/gpt-4.1": {"input": 0.002, "output": 0.008},
    "openai/gpt-4.1-mini": {"input": 0.0004, "output": 0.0016},
    "openai/o3-mini": {"input": 0.0011, "output": 0.0044},
    "openai/text-embedding-3-small": {"input": 0.00002, "output": 0.0},
    "openai/text-embedding-3-large": {"input": 0.00013, "output": 0.0},
    "anthropic/claude-3-5-sonnet": {"input": 0.003, "output": 0.015},
    "anthropic/claude-3-5-haiku": {"input": 0.0008, "output": 0.004},
    "anthropic/claude-sonnet-4": {"input": 0.003, "output": 0.015},
    "anthropic/claude-opus-4": {"input": 0.015, "output": 0.075},
    "mistral/mistral-large": {"input": 0.002, "output": 0.006},
    "mistral/mistral-small": {"input": 0.0002, "output": 0.0006},
    "google/gemini-1.5-pro": {"input": 0.00125, "output": 0.005},
    "google/gemini-1.5-flash": {"input": 0.000075, "output": 0.0003},
    # Self-hosted models cost nothing per token.
    "local/*": {"input": 0.0, "output": 0.0},
}


def load_prices(path: Path | None) -> dict[str, dict[str, float]]:
    prices = dict(DEFAULT_PRICES)
    if path is None:
        return prices
    try:
        overrides = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"cannot read price table {path}: {exc}") from exc
    if not isinstance(overrides, dict):
        raise ValueError(f"price table {path}: must be a JSON object of 'provider/model' keys")
    for key, entry in overrides.items():
        if "/" not in key or not isinstance(entry, dict):
            raise ValueError(f"price table {path}: {key!r} must be 'provider/model' -> {{...}}")
        if "input" not in entry or "output" not in entry:
            raise ValueError(f"price table {path}: {key!r} needs 'input' and 'output'")
        prices[key] = {side: _price(path, key, side, entry[side]) for side in ("input", "output")}
    return prices


def _price(path: Path, key: str, side: str, value: object) -> float:
    """USD per 1,000 tokens: a number (or numeric text), finite and not negative."""
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        price = math.nan
    if isinstance(value, bool) or not math.isfinite(price) or price < 0:
        raise ValueError(f"price table {path}: {key!r}: {side!r} must be a number >= 0")
    return price
