"""Reading the app's message catalogues, ``locales/<lang>/LC_MESSAGES/linewise.po`` (gettext).

The .po files are read as they ship (Babel's reader, no compile step): msgid is the English
text, msgstr its translation. Untranslated and fuzzy entries are left out, so the caller falls
back to English (or, in the tests' strict mode, says which message is missing).
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

__all__ = ["LOCALES_DIR", "DOMAIN", "catalogue_path", "read_catalogue"]

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "linewise"


def catalogue_path(language: str, root: Path = LOCALES_DIR) -> Path:
    return root / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str, root: Path = LOCALES_DIR) -> dict[str, str]:
    """msgid -> msgstr of `language`'s catalogue ({} when it has none: English needs none)."""
    path = catalogue_path(language, root)
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {str(m.id): str(m.string) for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
