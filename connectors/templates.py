"""Reading the reminder templates from disk (the rendering is billing.messages, pure).

Layout: ``templates/reminders/{lang}/{level}.jinja`` plus ``layout.html`` and
``layout.txt`` per language (see templates/reminders/README.md). A team can
keep its own copy elsewhere: ``LINEWISE_TEMPLATES_DIR`` or ``cli.py remind
--templates DIR``; files missing there are taken from the shipped set, so a
folder holding only ``hu/final.jinja`` changes just that one.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_TEMPLATES_DIR", "templates_dir", "load_templates"]

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "reminders"
_SUFFIXES = (".jinja", ".html", ".txt")
_MAX_BYTES = 256 * 1024


def templates_dir(override: str | Path | None = None) -> Path:
    """`override`, else ``LINEWISE_TEMPLATES_DIR``, else the shipped templates/reminders."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("LINEWISE_TEMPLATES_DIR", "").strip()
    return Path(env).expanduser() if env else DEFAULT_TEMPLATES_DIR


def _read_dir(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(lang_dir.iterdir()):
            if f.is_file() and f.suffix in _SUFFIXES and not f.name.startswith("."):
                if f.stat().st_size > _MAX_BYTES:
                    raise ValueError(f"reminder template {f} is larger than {_MAX_BYTES // 1024} KB")
                out[f"{lang_dir.name}/{f.name}"] = f.read_text(encoding="utf-8")
    return out


def load_templates(directory: str | Path | None = None) -> dict[str, str]:
    """{"en/first.jinja": text, "en/layout.html": text, ...}: the shipped templates overlaid with
    those in `directory` (or ``LINEWISE_TEMPLATES_DIR``) when given."""
    templates = _read_dir(DEFAULT_TEMPLATES_DIR)
    root = templates_dir(directory)
    if root.resolve() != DEFAULT_TEMPLATES_DIR.resolve():
        if not root.is_dir():
            raise FileNotFoundError(f"reminder templates folder {root} does not exist")
        templates.update(_read_dir(root))
    return templates
