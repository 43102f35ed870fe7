"""Shared helpers of the paginator tests: fake remote lists and the exact-resume check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from txsync import jsonutil
from txsync.pagination import Paginator, Step, collect


def roundtrip(cursor: Any) -> Any:
    """The cursor as the store gives it back: through JSON (fails if it is not JSON-serializable)."""
    return jsonutil.loads(jsonutil.dumps(cursor))


async def all_steps(paginator: Paginator[Any], cursor: Any = None) -> list[Step[Any]]:
    """Every step of a run, cursors checked to survive JSON."""
    steps = [step async for step in paginator.steps(cursor)]
    for step in steps:
        assert roundtrip(step.cursor) == step.cursor
    return steps


def flat(steps: Sequence[Step[Any]]) -> list[Any]:
    """The items of ``steps`` in order."""
    return [item for step in steps for item in step.items]


async def assert_resumes_exactly(
    paginator: Paginator[Any], cursor: Any = None, *, order: Callable[[Any], Any] | None = None
) -> list[Step[Any]]:
    """Run ``paginator``; from every step's cursor (after JSON), a new run yields exactly the rest.

    ``order`` (optional) sorts both sides first, for remote sides whose order within a page is random.
    """
    steps = await all_steps(paginator, cursor)
    for index, step in enumerate(steps):
        rest = (await collect(paginator, roundtrip(step.cursor))).items
        expected = flat(steps[index + 1 :])
        if order is not None:
            rest, expected = sorted(rest, key=order), sorted(expected, key=order)
        assert rest == expected, f"resume from step {index} ({step.cursor!r})"
    return steps


class Calls:
    """Records the arguments of every fetch."""

    def __init__(self) -> None:
        self.args: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.args.append(args)

    def __len__(self) -> int:
        return len(self.args)


async def drain(paginator: Paginator[Any], into: list[Any], cursor: Any = None) -> None:
    """Run ``paginator`` and append every yielded item to ``into`` (kept when the run raises)."""
    async for step in paginator.steps(cursor):
        into.extend(step.items)
