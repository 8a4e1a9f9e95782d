"""A small Markdown-to-HTML converter for the subset our table files use.

Headings, pipe tables (with an alignment row), bullet lists, paragraphs, inline ``code`` and
**bold**. Everything is HTML-escaped first, so a table file cannot inject markup into the report.
"""

from __future__ import annotations

import html
import re


def inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _alignments(line: str) -> list[str] | None:
    cells = split_row(line)
    if not cells or not all(re.fullmatch(r":?-{1,}:?", cell) for cell in cells):
        return None
    return [
        "center"
        if c.startswith(":") and c.endswith(":")
        else "right"
        if c.endswith(":")
        else "left"
        for c in cells
    ]


def _table(lines: list[str]) -> str:
    header, aligns, body = split_row(lines[0]), _alignments(lines[1]), lines[2:]

    def cell(tag, text, align):
        return f'<{tag} style="text-align:{align}">{inline(text)}</{tag}>'

    out = ["<table>", "<thead><tr>"]
    out += [
        cell("th", text, aligns[i] if i < len(aligns) else "left") for i, text in enumerate(header)
    ]
    out.append("</tr></thead><tbody>")
    for line in body:
        out.append(
            "<tr>"
            + "".join(
                cell("td", text, aligns[i] if i < len(aligns) else "left")
                for i, text in enumerate(split_row(line))
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def to_html(markdown: str, *, heading_offset: int = 0) -> str:
    """HTML for *markdown*; headings are demoted by *heading_offset* levels (at most h6)."""
    lines = markdown.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        if heading:
            level = min(6, len(heading.group(1)) + heading_offset)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _alignments(lines[i + 1]):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
            continue
        if re.match(r"\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"\s*[-*]\s+", lines[i]):
                items.append(re.sub(r"^\s*[-*]\s+", "", lines[i]))
                i += 1
            out.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
            continue
        paragraph = []
        while (
            i < len(lines)
            and lines[i].strip()
            and not re.match(r"(#{1,6}\s|\s*[-*]\s|\s*\|)", lines[i])
        ):
            paragraph.append(lines[i].strip())
            i += 1
        if not paragraph:  # a stray table line without an alignment row
            paragraph.append(lines[i].strip())
            i += 1
        out.append(f"<p>{inline(' '.join(paragraph))}</p>")
    return "\n".join(out)


def strip_title(markdown: str) -> tuple[str | None, str]:
    """(the first heading's text, the rest) when the text starts with a heading."""
    lines = markdown.lstrip().splitlines()
    if lines and re.match(r"#{1,6}\s+", lines[0]):
        return re.sub(r"^#{1,6}\s+", "", lines[0]).strip(), "\n".join(lines[1:]).strip()
    return None, markdown.strip()
