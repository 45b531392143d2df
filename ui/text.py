"""User text shown as text (SPEC §18): the one escape for every Markdown-rendering element.

Streamlit renders Markdown (and its own ``:color[...]``, ``:material/...:`` and ``$...$``
directives) in ``st.markdown``, ``st.caption``, ``st.header``/``subheader``/``title``,
``st.info``/``warning``/``error``/``success``/``toast``, ``st.write`` of a string, and in
widget labels, metric labels, expander and tab titles, page links and ``help`` tooltips.
A customer name, an invoice number, a dispute description, a file name or a message that
quotes a cell comes from a file or a person, so inside those elements it goes through
`plain`: ``![b](http://host/x.png)`` then shows as those characters instead of making every
viewer's browser fetch the URL, and ``*ACME*`` stays ``*ACME*``. Raw HTML is never enabled
(no ``unsafe_allow_html`` with user text); tables (``st.dataframe``) show text as text anyway.
"""
from __future__ import annotations

import re

__all__ = ["plain"]

# Characters that start inline markup anywhere: emphasis, code, links and images ("[" — without
# it "(", "!" are text), raw HTML, strike-through, LaTeX ($), Streamlit directives and emoji
# (":red[", ":smile:"). A backslash escapes each of them. Tables need a second line, which `plain`
# never leaves. An "_" inside a word (invoice_no) cannot emphasise and a ":" before a space
# (found: x) starts nothing: those stay as they are, so messages read the same in the source.
_INLINE = re.compile(r"([\\`*\[\]<>~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=\S))")
# GitHub-flavoured literal autolinks (http://, https://, www., e-mail addresses) are found in the
# text *after* escapes are read, so a backslash does not stop them: an invisible WORD JOINER
# (U+2060) inside the trigger does, and the text still reads (and copies) the same to the eye.
_AUTOLINK = re.compile(r"(?i)\b(https?(?=:)|www(?=\.)|(?<=\S)@(?=\S))")
WORD_JOINER = "\u2060"
# Block markup only counts at the start of a line: headings, lists, quotes, setext rules.
_BLOCK_START = re.compile(r"^(\s*)([#+\-=>]|\d+(?=[.)]))")


def plain(text: object) -> str:
    """`text` escaped so that Streamlit's Markdown shows it literally (None shows as "")."""
    if text is None:
        return ""
    s = str(text)
    # Line breaks would start new blocks (a "# heading", a "> quote"); one line of text stays one.
    s = " ".join(s.splitlines()) if "\n" in s or "\r" in s else s
    s = _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, s)
    s = _INLINE.sub(r"\\\1", s)
    return _BLOCK_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit()
                                                    else m.group(2) + "\\"), s)
