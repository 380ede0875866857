"""Names quoted in a report (layer paths, kinds, the network's name) come from a spec and may
hold any character: each format escapes them so that they show as written and cannot break
its layout.

    text   characters that do not print (control characters, line and paragraph separators,
           bidirectional overrides, ...) as Python writes them in a string: \\n, \\r, \\t,
           \\x00, \\u2028, \\u202e.  Everything else as is.
    md     a line break (\\n, \\r\\n, \\r, or any other that str.splitlines knows) as <br>;
           the other characters that do not print as for text; then Markdown's inline
           syntax backslash-escaped: \\ ` * [ ] < > & | ~, and _ unless it stands between two
           letters or digits (where it cannot start emphasis); a caption's leading block
           marker (# + - = or "1." / "1)") too, and its leading spaces as &#32;.  So `a|b` is one cell, written a\\|b.
    latex  characters that do not print as for text, then LaTeX's specials as commands:
           \\ { } _ & % $ # ^ ~ < > | ` (the last four print other glyphs in the default
           OT1 encoding).
    csv    nothing here: the csv module quotes any cell holding a comma, quote or line break
           (see render_csv), and a reader gets the name back exactly.
"""

from __future__ import annotations

import re

_NONPRINTING = re.compile(r"[^\x20-\x7e]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
"""The line boundaries of str.splitlines."""
_MD_INLINE = re.compile(r"[\\`*\[\]<>&|~]|(?<![^\W_])_|_(?![^\W_])")
_MD_CANDIDATE = re.compile(r"[\\`*\[\]<>&|~_]")
"""Characters _MD_INLINE may escape (a quick test: most names have none)."""
_MD_BLOCK_START = re.compile(r"^(?:[#+\-=]|\d{1,9}(?=[.)]))")
_LATEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "`": r"\textasciigrave{}"}
_LATEX_SPECIAL = re.compile("[" + re.escape("".join(_LATEX)) + "]")


def _visible_char(match: re.Match[str]) -> str:
    ch = match.group()
    return ch if ch.isprintable() else repr(ch)[1:-1]


def text(name: str) -> str:
    """Characters that do not print as their Python escapes ('x\\ny' -> 'x\\\\ny')."""
    if name.isascii() and name.isprintable():
        return name
    return _NONPRINTING.sub(_visible_char, name)


def _backslashed(match: re.Match[str]) -> str:
    return "\\" + match.group()


def markdown(name: str) -> str:
    """One table cell (or inline text): 'a|b' -> 'a\\\\|b', 'x\\ny' -> 'x<br>y'."""
    if name.isascii() and name.isprintable():  # no line break, nothing to show escaped
        return name if _MD_CANDIDATE.search(name) is None else _MD_INLINE.sub(_backslashed, name)
    return "<br>".join(_MD_INLINE.sub(_backslashed, text(line)) for line in _LINE_BREAK.split(name))


def markdown_line_start(name: str) -> str:
    """Inline text that opens a line (a caption): also a leading '#', '-', '1.' ... escaped,
    and leading spaces written as &#32; (four would start a code block)."""
    escaped = markdown(name)
    if escaped.startswith(" "):
        stripped = escaped.lstrip(" ")
        return "&#32;" * (len(escaped) - len(stripped)) + markdown_line_start(stripped)
    match = _MD_BLOCK_START.match(escaped)
    if match is None:
        return escaped
    end = match.end()
    return escaped[:end] + "\\" + escaped[end:] if escaped[0].isdigit() else "\\" + escaped


def latex(name: str) -> str:
    r"""Text-mode LaTeX: 'a_b' -> 'a\_b', '50%' -> '50\%'."""
    return _LATEX_SPECIAL.sub(lambda m: _LATEX[m.group()], text(name))
