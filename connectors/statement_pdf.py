"""Statement of account as PDF: Typst (the `typst` package) over ``templates/statements/``.

Why Typst: measured on this project's statements (20 items, Chinese text, A4), a
reused Typst compiler renders one in about 7 ms and embeds subsets of the
fonts it uses, falling back glyph by glyph (Noto Sans CJK has no "ő"/"ű",
DejaVu Sans has no Chinese); fpdf2 took about 1 s a document (it re-reads and
subsets the 19 MB Noto CJK collection for every document) and dropped glyphs
its font lacks. See bench/bench_statements.py.

The layout ``templates/statements/statement.typ`` reads the statement as JSON
(``billing.statement_doc.statement_document``), so customer text is placed as
text and can never become markup. Labels are ``templates/statements/{lang}.toml``.
Output is byte-identical for identical input: no creation date, fixed ids.

Fonts: Noto Sans CJK (Debian ``fonts-noto-cjk``) for Chinese, DejaVu Sans
(``fonts-dejavu-core``) for Latin text, Typst's built-in Libertinus Serif as
the last resort; other folders with ``LINEWISE_FONT_DIRS`` (os.pathsep-separated).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from billing.company import CompanyDetails
from billing.statement import CustomerStatement
from billing.statement_doc import fill, qr_references, statement_document
from connectors.qr import epc_qr, epc_svg, remittance_text

__all__ = ["StatementRenderer", "StatementRenderError", "load_statement_texts", "font_dirs", "TEMPLATES_DIR",
           "PDF_MIME", "CJK_FAMILY"]

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "statements"
PDF_MIME = "application/pdf"
CJK_FAMILY = "Noto Sans CJK SC"
LATIN_FAMILY = "DejaVu Sans"
FALLBACK_FAMILY = "Libertinus Serif"  # built into Typst
_DEFAULT_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/dejavu",
                      "/usr/share/fonts/truetype/noto")
_MAX_TEXT_BYTES = 256 * 1024
_CJK_LANGS = ("zh", "ja", "ko")


class StatementRenderError(RuntimeError):
    """A statement could not be typeset (a broken layout file, missing fonts); the text is safe to show."""


def font_dirs() -> list[str]:
    """Folders searched for fonts: ``LINEWISE_FONT_DIRS`` then Debian's Noto CJK and DejaVu folders."""
    extra = [p for p in os.environ.get("LINEWISE_FONT_DIRS", "").split(os.pathsep) if p.strip()]
    return [p for p in (*extra, *_DEFAULT_FONT_DIRS) if Path(p).is_dir()]


def load_statement_texts(directory: str | Path | None = None) -> dict[str, dict[str, str]]:
    """{lang: {label: text}} from the shipped ``{lang}.toml`` files, overlaid by those in `directory`."""
    texts: dict[str, dict[str, str]] = {}
    for root in (TEMPLATES_DIR, Path(directory).expanduser() if directory else None):
        if root is None or not root.is_dir():
            continue
        for f in sorted(root.glob("*.toml")):
            if f.stat().st_size > _MAX_TEXT_BYTES:
                raise StatementRenderError(f"statement texts {f.name} are larger than {_MAX_TEXT_BYTES // 1024} KB")
            try:
                labels = tomllib.loads(f.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise StatementRenderError(f"statement texts {f.name}: {exc}") from None
            texts.setdefault(f.stem, {}).update({k: str(v) for k, v in labels.items()})
    return texts


class StatementRenderer:
    """Renders many statements with one Typst compiler (fonts loaded once). Use as a context manager.

    `company`: shown in the header and the payment box (IBAN: EPC QR on EUR statements).
    `texts`: `load_statement_texts()`; `layout`: another ``statement.typ``.
    """

    def __init__(self, company: CompanyDetails, texts: Mapping[str, Mapping[str, str]] | None = None, *,
                 layout: str | Path | None = None, fonts: list[str] | None = None):
        import typst

        self.company = company
        self.texts = dict(texts) if texts is not None else load_statement_texts()
        self._root = Path(tempfile.mkdtemp(prefix="linewise-statement-"))
        main = self._root / "statement.typ"
        shutil.copyfile(Path(layout) if layout else TEMPLATES_DIR / "statement.typ", main)
        if company.logo is not None:
            (self._root / f"logo.{company.logo_format}").write_bytes(company.logo)
        dirs = fonts if fonts is not None else font_dirs()
        self.families = set(typst.Fonts(include_system_fonts=False, font_paths=dirs).families())
        self._typst = typst
        self._compiler = typst.Compiler(input=main, root=self._root, font_paths=dirs, ignore_system_fonts=True)

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> StatementRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fonts(self, lang: str) -> list[str]:
        cjk = lang.split("_")[0] in _CJK_LANGS
        if cjk and CJK_FAMILY not in self.families:
            raise StatementRenderError(f"no Chinese font: install {CJK_FAMILY} (Debian: apt-get install "
                                       "fonts-noto-cjk) or name its folder in LINEWISE_FONT_DIRS")
        order = (CJK_FAMILY, LATIN_FAMILY) if cjk else (LATIN_FAMILY, CJK_FAMILY)
        return [f for f in order if f in self.families] + [FALLBACK_FAMILY]

    def document(self, st: CustomerStatement) -> tuple[dict, str]:
        """(the document data, the EPC QR as SVG or "")."""
        doc = statement_document(st, self.company, self.texts)
        svg = ""
        eur = [s for s in doc["sections"] if s["currency"] == "EUR"]
        if eur and self.company.can_take_sepa:
            qr = epc_qr(self.company, eur[0]["amount_due"], "EUR", remittance_text(qr_references(st, "EUR")))
            if qr is not None:
                svg = epc_svg(qr)
                doc["qr"] = {"caption": fill(doc["labels"]["qr_caption"], amount=eur[0]["amount_due_text"])}
        return doc, svg

    def render(self, st: CustomerStatement) -> bytes:
        """The statement as PDF bytes (identical bytes for an identical statement)."""
        doc, svg = self.document(st)
        inputs = {"data": json.dumps(doc, ensure_ascii=False, default=str), "qr": svg,
                  "fonts": json.dumps(self._fonts(doc["lang"])), "logo": self.company.logo_format or ""}
        stamp = datetime(st.as_of.year, st.as_of.month, st.as_of.day, tzinfo=timezone.utc)
        try:
            return self._compiler.compile(sys_inputs=inputs, timestamp=stamp)
        except self._typst.TypstError as exc:
            raise StatementRenderError(f"the statement layout could not be typeset: {exc.message}") from None
