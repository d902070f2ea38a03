"""Base class of every `data` payload and of its nested objects."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def drop_optional_nulls(model: type[BaseModel], value: Any) -> Any:
    """`value` without the null entries of fields that are optional in `model`.

    JSON emitters write `"key": null` for "no value"; it must mean the same as leaving the
    key out, so the default applies (`attempt: null` is attempt 1, `depends_on: null` is []).
    """
    # Most payloads hold no null at all: a C-level scan, and the dict is kept as it is.
    if not isinstance(value, dict) or None not in value.values():
        return value
    optional = _optional_fields(model)
    return {key: item for key, item in value.items() if item is not None or key not in optional}


@cache
def _optional_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in model.model_fields.items() if not field.is_required())


class Payload(BaseModel):
    # Unknown keys are kept (the contract lets emitters extend payloads); frozen because an
    # event is a fact whose fingerprint must not drift after validation.
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any) -> Any:
        return drop_optional_nulls(cls, value)
