"""The base class of txsync's value types: frozen, strict about extra fields, typed errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from txsync.errors import ModelError

__all__ = ["TxsyncModel", "describe_validation_error"]


def describe_validation_error(model: str, exc: ValidationError) -> str:
    """Summarize ``exc`` without echoing input values (they may hold secrets or account data)."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(model)"
        problems.append(f"{loc}: {err['msg']}")
    return f"invalid {model}: " + "; ".join(problems)


class TxsyncModel(BaseModel):
    """Frozen pydantic model whose constructor raises :class:`~txsync.errors.ModelError`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ModelError(describe_validation_error(type(self).__name__, exc)) from None
