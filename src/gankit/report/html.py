"""The HTML of reports: one self-contained page, inline CSS, images as base64 data URIs, no scripts.

Every piece of text from a run (config values, event fields, names) goes through :func:`esc`. Nothing on the
page refers to the network: a report opens the same offline, from an e-mail attachment or a USB stick.
"""
from __future__ import annotations

import base64
import html
import json
import math
from string import Template
from typing import Any, Iterable, Sequence

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
       max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 12px 0 6px; }
p.sub, .note { color: #555; }
.note { font-size: 13px; }
nav { margin: 6px 0 10px; font-size: 13px; }
nav a { margin-right: 12px; color: #0b63c5; text-decoration: none; }
table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 8px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fbfbfc; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.strip { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; }
figure.thumb img { width: 200px; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
figure.side img { width: 360px; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
figure.anim img { width: 550px; max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #555; text-align: center; }
img.wide { max-width: 100%; height: auto; }
img.pixel { image-rendering: pixelated; }
img.final { max-width: 100%; width: 520px; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
.scroll { overflow-x: auto; max-width: 100%; }
div.rows { min-width: 0; max-width: 100%; }
code { background: #f3f3f5; padding: 0 3px; border-radius: 3px; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$css</style>
</head>
<body>
<h1>$title</h1>
<p class="sub">$subtitle</p>
<nav>$nav</nav>
$sections
</body>
</html>
""")


def esc(value: Any) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A short human form: numbers to 4 significant digits, containers as compact JSON (not escaped)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img(data: bytes, alt: str, cls: str = "wide", mime: str = "image/png") -> str:
    """An <img> with the picture embedded."""
    return f'<img class="{esc(cls)}" alt="{esc(alt)}" src="{data_uri(data, mime)}">'


def figure(data: bytes, caption: str, cls: str = "thumb", mime: str = "image/png") -> str:
    return f'<figure class="{esc(cls)}">{img(data, caption, "", mime)}<figcaption>{esc(caption)}</figcaption></figure>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table of escaped cells; numbers are right-aligned and shortened."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for v in row:
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(f'<td class="num">{esc(fmt(v))}</td>' if num else f"<td>{esc(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Iterable[int] = ()) -> str:
    """A table of text cells shown exactly as given (values read from a file are never reformatted, unlike
    :func:`table`); the columns whose index is in ``right`` are right-aligned (numbers)."""
    right = set(right)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{esc(v)}</td>' if j in right else f"<td>{esc(v)}</td>"
                                    for j, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def kv_table(d: dict[str, Any], title: str = "") -> str:
    """A two-column key/value table, optionally under a small heading."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v))}</td></tr>" for k, v in d.items())
    return (f"<div><h3>{esc(title)}</h3>" if title else "<div>") + f"<table><tbody>{rows}</tbody></table></div>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def section(sid: str, heading: str, body: str) -> tuple[str, str, str]:
    return sid, heading, body


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document; each section is an <section id=...> with an <h2>, linked from the top."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(h)}</a>' for sid, h, _ in sections)
    body = "\n".join(f'<section id="{esc(sid)}">\n<h2>{esc(h)}</h2>\n{b}\n</section>' for sid, h, b in sections)
    return PAGE.substitute(title=esc(title), subtitle=esc(subtitle), css=CSS, nav=nav, sections=body)
