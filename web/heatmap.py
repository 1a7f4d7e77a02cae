"""The partition × check heatmap, rendered in Python: a year of partitions times a dozen checks is
thousands of cells, and a template loop spends most of the page's time on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from quinto.evaluate import Status
from quinto.store.records import CheckRef

STATUSES = frozenset(Status)


def heatmap_html(
    columns: Sequence[str],
    checks: Sequence[CheckRef],
    statuses: Mapping[tuple[str, str], str],
    links: Mapping[str, str],
    partition_status: Mapping[str, str],
    marks: Mapping[str, str] | None = None,
) -> Markup:
    """`columns`: partitions oldest first; `statuses`: (check, partition) → status; `marks`:
    partition → "good" or "bad" (a marked partition's cells carry a marker)."""
    marked = {p: f" marked-{m}" for p, m in (marks or {}).items() if m in ("good", "bad")}
    mark_attr = {p: f' data-mark="{m}"' for p, m in (marks or {}).items() if m in ("good", "bad")}
    esc = {p: str(escape(p)) for p in columns}
    href = {p: str(escape(links[p])) for p in columns}
    out = ['<table class="heatmap" id="heatmap"><thead><tr><th>Check</th>']
    last = len(columns)
    for i, p in enumerate(columns, 1):
        pst = partition_status.get(p, "")
        cls = (f"part status-{pst.lower()}" if pst in STATUSES else "part") + marked.get(p, "")
        label = esc[p][-5:] if i in (1, last) or i % 7 == 0 else ""
        out.append(f'<th class="{cls}" title="{esc[p]}">{label}</th>')
    out.append("</tr></thead><tbody>")
    for c in checks:
        key = c.check_key
        out.append(f'<tr><th class="check" title="{escape(c.source)}">{escape(key)}</th>')
        for p in columns:
            found = statuses.get((key, p))
            if found is None:
                out.append('<td class="cell none"></td>')
                continue
            st = found if found in STATUSES else Status.ERROR
            out.append(
                f'<td class="cell {st.lower()}"><a href="{href[p]}" title="{esc[p]}: {st}" '
                f'data-partition="{esc[p]}" data-status="{st}"{mark_attr.get(p, "")}></a></td>'
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    return Markup("".join(out))
