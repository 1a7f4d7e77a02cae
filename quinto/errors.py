"""One error root, a few subclasses with structured fields, each mapped to a CLI exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_INFRA = 3

STATUS_EXIT = {"LEARNING": 0, "PASS": 0, "WARN": 0, "FAIL": 1, "ERROR": 3}


def exit_code_of(status: str, stored: int | None = None) -> int | None:
    """A run's exit code: 0 publish, 1 do not publish (a check failed), 2 bad input, 3 infrastructure;
    None while it is queued or running."""
    if status not in STATUS_EXIT:
        return None
    return int(stored) if stored is not None else STATUS_EXIT[status]


def verdict_of(code: int | None) -> str | None:
    """What the ETL job does: publish only on exit code 0; None while the audit is pending."""
    if code is None:
        return None
    return "publish" if code == 0 else "do not publish"


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    location: Location | None
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class QuintoError(Exception):
    """Root of every error Quinto raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = EXIT_INFRA

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpecError(QuintoError):
    """Check files, project file or command-line input are wrong. Carries every problem found."""

    exit_code = EXIT_BAD_SPEC

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(QuintoError):
    exit_code = EXIT_BAD_SPEC


class WarehouseError(QuintoError):
    """The warehouse could not be reached or refused a statement."""

    exit_code = EXIT_INFRA

    def __init__(
        self,
        message: str,
        *,
        engine: str = "",
        host: str = "",
        unreachable: bool = False,
        infra: bool | None = None,
        detail: str | None = None,
        out_of_memory: bool = False,
    ) -> None:
        super().__init__(message)
        self.engine = engine
        self.host = host
        self.unreachable = unreachable  # no connection could be made: nothing was sent
        # the warehouse itself failed (unreachable, timeout, out of memory, no permission), as opposed
        # to refusing what a check asked for (unknown column or function, type or cast error)
        self.infra = unreachable if infra is None else infra
        self.detail = detail or message  # the engine's own message, without where it came from
        self.out_of_memory = out_of_memory  # the engine ran out of (its allowed) memory: a lighter form may fit


class StoreError(QuintoError):
    exit_code = EXIT_INFRA


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, when one is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's first line (a driver error's own message), or its type when it has none."""
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    return text.splitlines()[0][:limit]
