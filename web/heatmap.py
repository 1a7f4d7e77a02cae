"""The partition × check heatmap, rendered in Python: a year of partitions times a dozen checks is
thousands of cells, and a template loop spends most of the page's time on them."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape
from quinto.web.trends import units

from quinto.evaluate import Status
from quinto.humanize import expected, quantity
from quinto.store.records import CheckRef

STATUSES = frozenset(Status)
#: the legend: each status's cell and what it means
LEGEND = (
    ("pass", "PASS"),
    ("warn", "WARN"),
    ("fail", "FAIL"),
    ("error", "ERROR: could not be computed"),
    ("learning", "LEARNING: too little history to judge"),
    ("none", "not audited"),
)


def label_every(n: int) -> int:
    """Every how many columns a date label is written (counted back from the newest): the labels
    are vertical, about 14 px wide, on columns 11 px apart."""
    return 1 if n <= 1 else 2 if n <= 14 else 7


def column_label(p: str) -> str:
    """A short header: MM-DD of an ISO date (or the end of another partition value)."""
    return p[5:10] if len(p) >= 10 and p[4] == "-" and p[7] == "-" else p[-5:]


def heatmap_html(
    columns: Sequence[str],
    checks: Sequence[CheckRef],
    statuses: Mapping[tuple[str, str], str],
    links: Mapping[str, str],
    partition_status: Mapping[str, str],
    details: Mapping[tuple[str, str], tuple[float | None, float | None, float | None]] | None = None,
    marks: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    tips: Mapping[tuple[str, str], str] | None = None,
) -> Markup:
    """`columns`: partitions (or runs) oldest first; `statuses`: (check, column) → status;
    `details`: (check, column) → (number judged, band low, band high) for the tooltips;
    `marks`: column → good/bad; `labels`: column → its name when it is not the column itself;
    `tips`: (check, column) → the cell's tooltip when the charts already wrote it."""
    tips = tips or {}
    details = details or {}
    marks = marks or {}
    marked = {p: f" marked-{m}" for p, m in marks.items() if m in ("good", "bad")}
    mark_attr = {p: f' data-mark="{m}"' for p, m in marks.items() if m in ("good", "bad")}
    names = {p: (labels or {}).get(p, p) for p in columns}
    esc = {p: str(escape(names[p])) for p in columns}
    href = {p: str(escape(links[p])) for p in columns}
    mark_note = {p: f" · marked {marks[p]}" if p in marks else "" for p in columns}
    out = ['<table class="heatmap" id="heatmap"><thead><tr><th>Check</th>']
    last = len(columns) - 1
    every = label_every(len(columns))
    for i, p in enumerate(columns):
        pst = partition_status.get(p, "")
        cls = (f"part status-{pst.lower()}" if pst in STATUSES else "part") + marked.get(p, "")
        label = str(escape(column_label(names[p]))) if (last - i) % every == 0 else ""
        out.append(f'<th class="{cls}" title="{esc[p]}{escape(mark_note[p])}">{label}</th>')
    out.append("</tr></thead><tbody>")
    for c in checks:
        key = c.check_key
        u = units(c.check_type, c.threshold)
        ekey = str(escape(key))
        out.append(f'<tr><th class="check" title="{escape(c.source)}">{ekey}</th>')
        for p in columns:
            found = statuses.get((key, p))
            if found is None:
                out.append(f'<td class="cell none" title="{ekey} · {esc[p]}: not audited"></td>')
                continue
            st = found if found in STATUSES else Status.ERROR
            tip = tips.get((key, p))
            if tip is None:
                y, low, high = details.get((key, p), (None, None, None))
                band = expected(low, high, u.unit, u.noun)
                tip = f"{names[p]}: " + ("no value" if y is None else quantity(y, u.unit, u.noun))
                tip += (f" · expected {band}" if band else "") + f" · {st}{mark_note[p]}"
            out.append(
                f'<td class="cell {st.lower()}"><a href="{href[p]}" title="{html.escape(f"{key} · {tip}")}" '
                f'data-partition="{esc[p]}" data-status="{st}"{mark_attr.get(p, "")}></a></td>'
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    return Markup("".join(out))


def legend_html() -> Markup:
    """What the colours mean."""
    items = "".join(f'<li><span class="swatch cell {cls}"></span>{escape(text)}</li>' for cls, text in LEGEND)
    return Markup(f'<ul class="legend" id="heatmap-legend">{items}</ul>')
