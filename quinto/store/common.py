"""Small helpers the store's modules share: times (every time in the store is UTC; SQLite hands
them back naive) and chunking long IN lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(value: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC time."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


def chunks(items: Sequence[T], n: int = 500) -> Iterable[list[T]]:
    """`items` in lists of at most `n`, for IN lists every database accepts."""
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


__all__ = ["aware", "chunks", "utc", "utcnow"]
