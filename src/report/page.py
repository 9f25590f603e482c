"""One self-contained HTML report per sweep: what was segmented, which model won and why, and
what each segment looks like and should get.

The page has no external resources: CSS is inline, figures are PNG data URIs and a
Content-Security-Policy forbids any network fetch, so the file can be mailed or attached to an
MLflow run and opened anywhere. All text coming from data or configuration is HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path

from src.report import sections
from src.report.context import ReportContext
from src.report.format import e
from src.result import FigureId

SECTIONS = (
    ("summary", "At a glance", sections.summary),
    ("data", "Dataset and cleaning", sections.data),
    ("choice", "Chosen configuration and why", sections.choice),
    ("profiles", "Segment profiles", sections.profiles),
    ("sizes", "Segment sizes", sections.sizes),
    ("cards", "Segment cards", sections.cards),
    ("rules", "Rules that find each segment", sections.rules),
    ("rfm", "RFM scores by segment", sections.rfm),
    ("products", "Product picks", sections.products),
    ("figures", "More figures", sections.more_figures),
)

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #dde3ea; --accent: #4c72b0; --warm: #dd8452;
        --paper: #ffffff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial,
       sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: var(--paper); }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
h1 { margin: 0 0 4px; font-size: 28px; }
h2 { margin: 36px 0 12px; font-size: 21px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { margin: 20px 0 8px; font-size: 16px; }
h4 { margin: 14px 0 4px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em;
     color: var(--muted); }
p { margin: 6px 0 10px; max-width: 80ch; }
.meta, .muted { color: var(--muted); font-size: 13px; }
.meta span + span::before { content: " · "; }
nav { margin: 10px 0 0; font-size: 13px; display: flex; flex-wrap: wrap; gap: 2px 14px; }
nav a { color: var(--accent); text-decoration: none; white-space: nowrap; }
.note { color: var(--muted); font-style: italic; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
thead th { background: #eef2f7; font-weight: 600; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
table.kv th { font-weight: 600; white-space: nowrap; }
td.help { color: var(--muted); font-size: 12px; max-width: 46ch; }
tr.chosen td { background: #fff3e6; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px;
         background: var(--warm); color: #fff; font-size: 11px; font-weight: 600; }
.two-col { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
           gap: 8px 28px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.tile { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
        background: #fafbfd; }
.tile-value { font-size: 22px; font-weight: 600; color: var(--accent); }
.tile-label { font-size: 12px; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 6px;
        padding: 6px 16px 12px; break-inside: avoid; }
.card h3 { margin: 8px 0 0; font-size: 18px; }
.card ul { margin: 4px 0 8px; padding-left: 20px; font-size: 14px; }
table.profile { width: 100%; margin: 6px 0; font-size: 12px; }
table.profile th, table.profile td { padding: 3px 6px; }
table.profile td.level { white-space: normal; min-width: 7ch; }
table.profile th { white-space: normal; }
.worth { font-weight: 600; margin: 2px 0 6px; }
p.rule code { white-space: normal; font-size: 13px; background: #f3f5f8; padding: 1px 4px; }
figure { margin: 14px 0 20px; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
.figure-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
              gap: 0 20px; align-items: end; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } main { padding: 0; } nav { display: none; } }
"""


def render_report(ctx: ReportContext) -> str:
    """The report as one HTML string with no external references."""
    parts = [(key, title, render(ctx)) for key, title, render in SECTIONS]
    parts = [(key, title, body) for key, title, body in parts if body]
    nav = "\n".join(f'<a href="#{key}">{e(title)}</a>' for key, title, _ in parts)
    meta = [f"Experiment: {ctx.experiment}", f"Created: {ctx.created}"]
    if ctx.run_id:
        meta.append(f"Run ID: {ctx.run_id}")
    body = "".join(
        f'<section id="{key}"><h2>{e(title)}</h2>{content}</section>'
        for key, title, content in parts
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{e(ctx.title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{e(ctx.title)}</h1>"
        f'<div class="meta">{"".join(f"<span>{e(m)}</span>" for m in meta)}</div>'
        f"<nav>{nav}</nav></header>"
        f"{body}"
        f"<footer>{e(ctx.title)} · {e(ctx.created)}"
        + (f" · run {e(ctx.run_id)}" if ctx.run_id else "")
        + "</footer></main></body></html>\n"
    )


def write_report(ctx: ReportContext, path: str | Path) -> Path:
    """Render ``ctx`` to ``path`` (parent folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ctx), encoding="utf-8")
    return path


__all__ = ["SECTIONS", "FigureId", "ReportContext", "render_report", "write_report"]
