"""Extract the app's messages and merge them into each language's catalogue.

    .venv/bin/python locales/messages.py

Finds every literal ``t("...")`` (ui.i18n) and ``N_("...")`` (billing.labels) in app.py, pages/,
ui/ and billing/labels.py, writes ``locales/linewise.pot``, and updates
``locales/<lang>/LC_MESSAGES/linewise.po`` for zh and hu: new messages are added untranslated,
messages no longer used are dropped, translations are kept. Then translate the empty msgstr.
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
LANGUAGES = ("zh", "hu")
KEYWORDS = {"t": None, "N_": None}
SOURCES = ("app.py", "pages", "ui", "billing/labels.py")


def source_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = root / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def extract(root: Path = ROOT) -> Catalog:
    """Every message id used by the app's sources, with where it is used."""
    template = Catalog(project="Linewise", domain="linewise")
    for path in source_files(root):
        for lineno, message, comments, context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=("i18n:",)):
            if isinstance(message, str) and message.strip():
                template.add(message, locations=[(str(path.relative_to(root)), lineno)],
                             auto_comments=comments, context=context)
    return template


def merge(template: Catalog, language: str) -> Catalog:
    path = LOCALES / language / "LC_MESSAGES" / "linewise.po"
    if path.is_file():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
    else:
        catalog = Catalog(locale=language, project="Linewise", domain="linewise")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=False)
    return catalog


def main() -> int:
    template = extract()
    with (LOCALES / "linewise.pot").open("wb") as fh:
        write_po(fh, template, width=100)
    for lang in LANGUAGES:
        catalog = merge(template, lang)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{lang}: {len(catalog) - 1} messages, {len(missing)} to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
