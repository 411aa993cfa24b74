"""Untrusted text made safe for the browser: Markdown and HTML that show a document's, a note's,
a question's or the model's text as that text and can make the page load nothing.

    markdown_text('See ![x](http://host/?q=…) <img src=…> [1]')
        ─▶ 'See !\\[x\\](http://host/?q=…) &lt;img src=…&gt; \\[1\\]'
           which renders as the text it was: See ![x](http://host/?q=…) <img src=…> [1]
    markdown_code('d1` <img src=…> `')   ─▶ '`` d1` <img src=…> ` ``'      (one inline code span, inert)
    html_text('<b>&</b>')                ─▶ '&lt;b&gt;&amp;&lt;/b&gt;'

Why this is needed: the web page renders Markdown (answers, questions, search hits, eval cases)
with raw HTML allowed (sanitised against scripts, not against images), so a catalog description,
a clinical note or a model reply holding `![](http://host/?q=<patient data>)`, `<img src>`,
`<iframe>`, `<link>`, `<style>@import`, `<video poster>`, `<svg><image href>` or a
reference-style image would make every reader's browser fetch that URL — a leak of what is on
the screen, with no click. Knowledge is the lowest layer, so every surface (the knowledge tab,
the assistant, the eval views, the app) imports this one module.

What `markdown_text` does, and why each step:
  - `&`, `<`, `>` become entities: no HTML tag, comment or `<http://…>` autolink can form, and
    the entities render as the characters themselves.
  - `\\` `` ` `` `[` `]` `~` are backslash-escaped. Brackets: no image (`![…](…)`, `![…][r]`), no
    link and no reference definition (`[r]: http://…`) can form. Links load nothing until
    clicked, but a link's text can hide where it goes (`[the chart](http://host/?q=…)`), so a
    link from untrusted text is shown as its literal source instead. A bare URL may still be
    auto-linked by the renderer: it loads nothing, and its visible text is its destination.
    Backticks and tildes: no code span or fence (a ```mermaid fence is drawn by the page, and
    entities inside code would show as `&lt;`), so the text renders as written.
  - Indentation at a line start shrinks to one space: an indented line would become a code
    block, showing the escapes literally. HTML collapses that whitespace anyway.
Emphasis, headings and lists are left alone: they change how text looks, never what loads.
Math between `$$` is typeset by KaTeX, which the page runs untrusted (no `\\href`, no
`\\includegraphics`), so it loads nothing either.
"""
from __future__ import annotations

import html
import re

_ESCAPED = re.compile(r"([\\`\[\]~])")
_INDENT = re.compile(r"(^|\n)[ \t]+")
_BACKTICKS = re.compile(r"`+")


def markdown_text(text: object) -> str:
    """`text` as Markdown that renders as the same visible text and loads nothing (see the
    module docstring); safe to splice into trusted Markdown anywhere outside a code span."""
    escaped = _ESCAPED.sub(r"\\\1", str(text))
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INDENT.sub(r"\1 ", escaped)


def markdown_code(text: object) -> str:
    """`text` as one inline code span (monospace, nothing inside it is Markdown or HTML): the
    fence is one backtick longer than any run of backticks in it, so it cannot be closed early,
    and line breaks become spaces, since a blank line would end the span and let the rest be
    read as Markdown. "" for empty text (an empty span does not exist in Markdown)."""
    flat = " ".join(str(text).split())
    if not flat:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def html_text(text: object) -> str:
    """`text` escaped for HTML element content and quoted attribute values."""
    return html.escape(str(text), quote=True)
