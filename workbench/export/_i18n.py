"""One translation catalogue for every text a tip sheet shows, in English and Chinese.

The catalogue is a flat JSON object per language in ``workbench/export/locales`` (``en.json``,
``zh-CN.json``) with the same keys; templates and code never carry their own wording, they
ask a :class:`Translator` for it. Values from the data (a verdict, an identifier kind) are
translated when the catalogue knows them and shown as they are otherwise.

>>> tr = translator("zh-CN")
>>> tr.value("verdict", "counterfeit")
'假冒'
>>> translator("en")("site.heading", site_id="S001")
'Site S001'
"""

from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.errors import InputError, NotFoundError

__all__ = ["DEFAULT_LANG", "LANGS", "Translator", "catalogue", "translator"]

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
_LOCALES = Path(__file__).parent / "locales"


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise InputError(f"lang={lang!r} is not available; choose one of {', '.join(LANGS)}")


@lru_cache(maxsize=len(LANGS))
def catalogue(lang: str) -> dict[str, str]:
    """The catalogue of one language: key -> text with ``{name}`` placeholders."""
    _check_lang(lang)
    data = json.loads((_LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Translator:
    """Texts of one language: ``tr(key, **values)`` and ``tr.value(group, code)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._texts = catalogue(lang)

    def __call__(self, key: str, /, **values: Any) -> str:
        """The text for ``key`` with its placeholders filled from ``values``."""
        try:
            text = self._texts[key]
        except KeyError:
            raise NotFoundError(f"no text {key!r} in the {self.lang} catalogue") from None
        return text.format_map(values) if values else text

    def value(self, group: str, code: Any) -> str:
        """A data code (``verdict``/``counterfeit``) in this language, or the code itself."""
        text = "" if code is None else str(code)
        return self._texts.get(f"{group}.{text}", text)

    def __repr__(self) -> str:
        return f"Translator({self.lang!r})"


def translator(lang: str = DEFAULT_LANG) -> Translator:
    """The :class:`Translator` for ``lang`` (one of :data:`LANGS`)."""
    _check_lang(lang)
    return Translator(lang)
