"""The polling helper every test waits with (tests/support/eventually.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.support.eventually import eventually, eventually_async


def test_returns_the_first_truthy_value_without_waiting_longer() -> None:
    calls = itertools.count(1)
    assert eventually(lambda: (n := next(calls)) >= 3 and n, interval=0.001) == 3
    assert next(calls) == 4  # polled exactly three times


def test_a_failing_assert_means_not_yet() -> None:
    seen: list[int] = []

    def grows() -> bool:
        seen.append(len(seen))
        assert len(seen) > 2, f"only {len(seen)}"
        return True

    assert eventually(grows, interval=0.001) is True
    assert len(seen) == 3


def test_timeout_names_the_condition_and_the_last_value() -> None:
    values = iter(range(1000))
    with pytest.raises(AssertionError) as caught:
        eventually(lambda: next(values) < 0 and 1, timeout=0.05, interval=0.001, what="rows")
    text = str(caught.value)
    assert text.startswith("rows did not hold within 0.05 s; last observed: ")
    assert text.endswith("False")


def test_timeout_reports_the_last_assertion() -> None:
    def never() -> None:
        raise AssertionError("3 != 4")

    with pytest.raises(AssertionError, match=r"last observed: AssertionError: 3 != 4"):
        eventually(never, timeout=0.02, interval=0.001)


def test_other_errors_propagate_at_once() -> None:
    calls: list[None] = []

    def broken() -> None:
        calls.append(None)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        eventually(broken, timeout=5)
    assert len(calls) == 1


async def test_async_form_awaits_coroutine_conditions() -> None:
    calls = itertools.count(1)

    async def ready() -> int | None:
        n = next(calls)
        return n if n >= 2 else None

    assert await eventually_async(ready, interval=0.001) == 2


async def test_async_form_accepts_plain_callables_and_times_out() -> None:
    with pytest.raises(AssertionError, match=r"queue did not hold .* last observed: \[\]"):
        await eventually_async(list, timeout=0.02, interval=0.001, what="queue")


def test_until_decides_and_an_empty_value_may_be_the_answer() -> None:
    answers = iter([[1, 2], [1], []])
    assert eventually(lambda: next(answers), until=lambda rows: rows == [], interval=0.001) == []


def test_retry_on_widens_what_counts_as_not_yet() -> None:
    attempts = iter([ConnectionError("down"), ConnectionError("down"), None])

    def connect() -> str:
        error = next(attempts)
        if error is not None:
            raise error
        return "up"

    assert eventually(connect, retry_on=(ConnectionError,), interval=0.001) == "up"
    with pytest.raises(AssertionError, match="last observed: ConnectionError: refused"):
        eventually(
            lambda: (_ for _ in ()).throw(ConnectionError("refused")),
            retry_on=(ConnectionError,),
            timeout=0.02,
            interval=0.001,
        )
