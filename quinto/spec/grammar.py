"""The check-line grammar: `metric(args) [change vs previous partition] [condition]`.

    row_count > 0
    missing_percent(country) < 0.1%
    avg(duration_s) between 60 and 7200
    freshness(event_ts) < 26h
    row_count change vs previous partition between -30% and +50%
    duplicate_count(play_id, ds) = 0
    reference(title_id) in dw.dim_title(title_id)

Values: numbers, percentages (`0.1%`) and durations (`90s`, `30m`, `26h`, `2d`, `1w`, `1d12h`).
A condition is what must hold for the check to pass; `warn:` / `fail:` levels use the same
condition syntax and say when that level is reached.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

OPS = ("<=", ">=", "!=", "<", ">", "=")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<qident>"(?:[^"]|"")+"|`(?:[^`]|``)+`)
  | (?P<duration>(?:\d+(?:\.\d+)?[smhdw])+(?![\w%]))
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<badop>=>|=<|=!)
  | (?P<op><=|>=|!=|<>|==|<|>|=)
  | (?P<punct>[(),.])
    """,
    re.VERBOSE,
)


class GrammarError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int


@dataclass(frozen=True)
class Value:
    number: float
    unit: str  # "" plain, "%" percent, "s" duration in seconds
    text: str


@dataclass(frozen=True)
class Condition:
    op: str  # one of OPS, "between", "not between"
    values: tuple[Value, ...]
    text: str

    def holds(self, x: float) -> bool:
        v = [val.number for val in self.values]
        if self.op == "between":
            return v[0] <= x <= v[1]
        if self.op == "not between":
            return not (v[0] <= x <= v[1])
        return {
            "<": x < v[0],
            "<=": x <= v[0],
            ">": x > v[0],
            ">=": x >= v[0],
            "=": x == v[0],
            "!=": x != v[0],
        }[self.op]

    @property
    def units(self) -> set[str]:
        return {v.unit for v in self.values}

    def bounds(self) -> tuple[float | None, float | None]:
        """The band of passing values (low, high), for display."""
        v = [val.number for val in self.values]
        if self.op == "between":
            return v[0], v[1]
        if self.op in ("<", "<="):
            return None, v[0]
        if self.op in (">", ">="):
            return v[0], None
        if self.op == "=":
            return v[0], v[0]
        return None, None


@dataclass(frozen=True)
class Arg:
    text: str
    quoted: bool
    is_number: bool
    offset: int


@dataclass(frozen=True)
class ChangeBase:
    """What a change check compares with: `previous` (the newest earlier good partition),
    `weekday` (the same weekday a week before), `ago` (the n-th earlier good partition) or
    `average` (the mean of the last n good partitions)."""

    vs: str
    n: int = 1

    @property
    def text(self) -> str:
        return {
            "previous": "previous partition",
            "weekday": "same weekday last week",
            "ago": f"{self.n} partitions ago",
            "average": f"average of last {self.n}",
        }[self.vs]


CHANGE_FORMS = ("previous partition", "same weekday last week", "N partitions ago", "average of last N")


@dataclass(frozen=True)
class CheckLine:
    metric: str
    metric_offset: int
    args: tuple[Arg, ...] | None  # None: written without parentheses
    change: ChangeBase | None  # "change vs previous partition" and its kin
    condition: Condition | None
    reference: tuple[str, tuple[Arg, ...]] | None  # "in schema.table(col, ...)"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GrammarError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind == "badop":
            meant = {"=>": ">=", "=<": "<=", "=!": "!="}[m.group()]
            raise GrammarError(f"unknown operator '{m.group()}' (did you mean '{meant}'?)", pos)
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def parse_value(tok: Token) -> Value:
    if tok.kind == "duration":
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhdw])", tok.text))
        value = Value(seconds, "s", tok.text)
    elif tok.kind == "number":
        if tok.text.endswith("%"):
            value = Value(float(tok.text[:-1]), "%", tok.text)
        else:
            value = Value(float(tok.text), "", tok.text)
    else:
        raise GrammarError(f"expected a number, percentage or duration, found '{tok.text}'", tok.offset)
    if not math.isfinite(value.number):
        raise GrammarError(f"'{tok.text}' is too large a number to compare with (at most about 1e308)", tok.offset)
    return value


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `26h`, `2d`, `1w`, `1d12h` → seconds; raises ValueError otherwise."""
    if not re.fullmatch(r"(?:\d+(?:\.\d+)?[smhdw])+", text.strip()):
        raise ValueError(f"'{text}' is not a duration like 90s, 30m, 26h or 2d")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise GrammarError("unexpected end of check", len(self.text))
        self.i += 1
        return tok

    def expect_word(self, word: str) -> None:
        tok = self.take()
        if tok.kind != "ident" or tok.text.lower() != word:
            raise GrammarError(f"expected '{word}', found '{tok.text}'", tok.offset)

    def is_word(self, word: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == "ident" and tok.text.lower() == word

    def args(self) -> tuple[Arg, ...]:
        self.take()  # "("
        out: list[Arg] = []
        while True:
            tok = self.take()
            if tok.kind == "ident":
                out.append(Arg(tok.text, False, False, tok.offset))
            elif tok.kind == "qident":
                inner = tok.text[1:-1].replace(tok.text[0] * 2, tok.text[0])
                out.append(Arg(inner, True, False, tok.offset))
            elif tok.kind == "number":
                out.append(Arg(tok.text, False, True, tok.offset))
            else:
                raise GrammarError(f"expected a column name, found '{tok.text}'", tok.offset)
            sep = self.take()
            if sep.text == ")":
                return tuple(out)
            if sep.text != ",":
                raise GrammarError(f"expected ',' or ')', found '{sep.text}'", sep.offset)

    def condition(self) -> Condition:
        start = self.peek()
        assert start is not None
        negate = False
        if self.is_word("not") and self.is_word("between", 1):
            self.take()
            negate = True
        if self.is_word("between"):
            self.take()
            low = parse_value(self.take())
            self.expect_word("and")
            high = parse_value(self.take())
            if low.number > high.number:
                raise GrammarError(
                    f"'between {low.text} and {high.text}': the low bound is above the high bound", start.offset
                )
            op = "not between" if negate else "between"
            return Condition(op, (low, high), self.text[start.offset :].strip())
        tok = self.take()
        if tok.kind != "op":
            raise GrammarError(f"expected a comparison (<, <=, =, !=, >=, >, between), found '{tok.text}'", tok.offset)
        op = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
        value = parse_value(self.take())
        return Condition(op, (value,), self.text[start.offset :].strip())


def parse_condition(text: str) -> Condition:
    """A bare condition, as written in `warn:` / `fail:` (a leading `when` is allowed)."""
    p = _Parser(text)
    if p.is_word("when"):
        p.take()
    if p.peek() is None:
        raise GrammarError("empty condition", 0)
    cond = p.condition()
    extra = p.peek()
    if extra is not None:
        raise GrammarError(f"unexpected '{extra.text}' after the condition", extra.offset)
    return cond


def _whole(p: _Parser, what: str) -> int:
    tok = p.take()
    if tok.kind != "number" or not tok.text.isdigit() or int(tok.text) < 1:
        raise GrammarError(f"expected a whole number of partitions after '{what}', found '{tok.text}'", tok.offset)
    return int(tok.text)


def _change_base(p: _Parser) -> ChangeBase:
    """After `change vs`: what the change is measured against."""
    forms = ", ".join(f"'vs {f}'" for f in CHANGE_FORMS)
    tok = p.peek()
    if tok is None:
        raise GrammarError(f"expected one of {forms}", 0)
    word = tok.text.lower()
    if word == "previous":
        p.take()
        p.expect_word("partition")
        return ChangeBase("previous")
    if word == "same":
        p.take()
        for w in ("weekday", "last", "week"):
            p.expect_word(w)
        return ChangeBase("weekday", 7)
    if word == "average":
        p.take()
        p.expect_word("of")
        p.expect_word("last")
        n = _whole(p, "average of last")
        if p.is_word("partitions") or p.is_word("partition"):
            p.take()
        if n < 2:
            raise GrammarError("an average is of at least 2 partitions", tok.offset)
        return ChangeBase("average", n)
    if tok.kind == "number":
        n = _whole(p, "vs")
        if not (p.is_word("partitions") or p.is_word("partition")):
            nxt = p.peek()
            raise GrammarError(f"expected 'partitions ago' after {n}", nxt.offset if nxt else tok.offset)
        p.take()
        p.expect_word("ago")
        return ChangeBase("ago", n)
    raise GrammarError(f"expected one of {forms}, found '{tok.text}'", tok.offset)


def parse_check_line(text: str) -> CheckLine:
    p = _Parser(text)
    first = p.take()
    if first.kind != "ident":
        raise GrammarError(f"a check starts with a metric name, found '{first.text}'", first.offset)
    args = None
    nxt = p.peek()
    if nxt is not None and nxt.text == "(":
        args = p.args()
    change = None
    if p.is_word("change"):
        p.take()
        p.expect_word("vs")
        change = _change_base(p)
    reference = None
    if p.is_word("in"):  # `metric(cols) in table(cols)`: the check type says whether it takes one
        p.take()
        parts = [p.take()]
        while p.peek() is not None and p.peek().text == ".":  # type: ignore[union-attr]
            p.take()
            parts.append(p.take())
        for part in parts:
            if part.kind not in ("ident", "qident"):
                raise GrammarError(f"expected a table name, found '{part.text}'", part.offset)
        if len(parts) > 3:
            raise GrammarError(
                f"a table name has at most three parts (catalog.schema.table); "
                f"'{'.'.join(t.text for t in parts)}' has {len(parts)}",
                parts[0].offset,
            )
        nxt = p.peek()
        if nxt is None or nxt.text != "(":
            raise GrammarError(
                "expected '(' and the referenced columns after the table name", nxt.offset if nxt else len(text)
            )
        ref_args = p.args()
        reference = (".".join(t.text for t in parts), ref_args)
    condition = p.condition() if p.peek() is not None else None
    extra = p.peek()
    if extra is not None:
        raise GrammarError(f"unexpected '{extra.text}' after the condition", extra.offset)
    return CheckLine(first.text, first.offset, args, change, condition, reference)
