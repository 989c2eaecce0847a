"""The English catalogue covers every Indonesian msgid in the code, and the app really switches language.

msgids are Indonesian (the default locale "id"); English lives in
``caseapp/translations/en/LC_MESSAGES/messages.po``. How to extract, update and compile: docs/translations.md.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import get_babel

from tests.helpers import csrf_token

PROJECT_DIR = Path(__file__).resolve().parent.parent
BABEL_CFG = PROJECT_DIR / "babel.cfg"
TRANSLATIONS = PROJECT_DIR / "caseapp" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = EN_PO.with_suffix(".mo")
# The same keywords as `pybabel extract -k _l` (the defaults plus lazy_gettext imported as _l).
KEYWORDS = {**DEFAULT_KEYWORDS, **parse_keywords(["_l"])}
HOW_TO_FIX = (
    "run: pybabel extract -F babel.cfg -k _l -o caseapp/translations/messages.pot . && "
    "pybabel update -i caseapp/translations/messages.pot -d caseapp/translations, "
    "then translate in caseapp/translations/en/LC_MESSAGES/messages.po (see docs/translations.md)"
)

NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +\-]*\d*(?:\.\d+)?([a-zA-Z])")
POSITIONAL_PLACEHOLDER = re.compile(r"%(?!\()[#0+\-]*\d*(?:\.\d+)?([sdifr])")


def _read_en() -> Catalog:
    with EN_PO.open("rb") as handle:
        return read_po(handle, locale="en")


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogue():
    """Compile the English .mo when it is missing or older than the .po (``make test`` also compiles it)."""
    if not EN_MO.exists() or EN_MO.stat().st_mtime < EN_PO.stat().st_mtime:
        catalogue = _read_en()
        partial = EN_MO.with_name(f"messages.mo.{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            write_mo(handle, catalogue, use_fuzzy=False)
        partial.replace(EN_MO)
    return EN_MO


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    """What `pybabel extract -F babel.cfg -k _l .` finds in the code, as a catalogue."""
    with BABEL_CFG.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, filename=str(BABEL_CFG))
    catalogue = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PROJECT_DIR), method_map, options_map, keywords=KEYWORDS
    ):
        catalogue.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalogue


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:3])


def _placeholders(text: str) -> Counter:
    text = text.replace("%%", "")
    return Counter(
        [f"%({name}){kind}" for name, kind in NAMED_PLACEHOLDER.findall(text)]
        + [f"%{kind}" for kind in POSITIONAL_PLACEHOLDER.findall(text)]
    )


def _strings(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def test_extraction_finds_the_app_strings(extracted):
    ids = {message.id for message in extracted if message.id}
    # Python (lazy _l and _), page templates and shared templates are all covered by babel.cfg.
    assert {"Masuk ke Sinergi", "Beranda", "Kata sandi", "Kembali ke beranda"} <= ids


def test_every_msgid_in_the_code_has_an_english_translation(extracted):
    english = _read_en()
    problems = []
    for message in extracted:
        if not message.id:
            continue
        found = english.get(message.id, message.context)
        label = f"{message.id!r} ({_where(message)})"
        if found is None:
            problems.append(f"missing: {label}")
        elif found.fuzzy:
            problems.append(f"fuzzy: {label}")
        elif not all(s and s.strip() for s in _strings(found.string)):
            problems.append(f"untranslated: {label}")
    assert not problems, f"{len(problems)} msgid(s) lack English; {HOW_TO_FIX}:\n" + "\n".join(problems)


def test_english_catalogue_has_no_fuzzy_entries():
    english = _read_en()
    assert not english.fuzzy, "the header of messages.po is marked fuzzy"
    fuzzy = [message.id for message in english if message.id and message.fuzzy]
    assert not fuzzy, f"fuzzy entries in {EN_PO.name}: {fuzzy}"


def test_english_placeholders_match_the_msgid():
    mismatched = []
    for message in _read_en():
        if not message.id or not message.string:
            continue
        expected = _placeholders(_strings(message.id)[0])
        for translated in _strings(message.string):
            if translated and _placeholders(translated) != expected:
                mismatched.append(
                    f"{message.id!r} -> {translated!r}: "
                    f"expected {sorted(expected.elements())}, got {sorted(_placeholders(translated).elements())}"
                )
    assert not mismatched, "placeholders differ between msgid and msgstr:\n" + "\n".join(mismatched)


@pytest.fixture
def fresh_translations(app):
    """Forget translations loaded earlier in the run (the .mo may have just been compiled)."""
    with app.app_context():
        get_babel(app).instance.domain_instance.cache.clear()


def test_login_page_is_indonesian_by_default(client, fresh_translations):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Masuk ke Sinergi" in html
    assert "Log in to Sinergi" not in html


def test_login_page_follows_the_browser_language(client, fresh_translations):
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Log in to Sinergi" in html
    assert "Masuk ke Sinergi" not in html


def test_language_form_switches_the_login_page_to_english(client, fresh_translations):
    page = client.get("/login")
    assert "Masuk ke Sinergi" in page.get_data(as_text=True)

    answer = client.post(
        "/language",
        data={"locale": "en", "next": "/login", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/login")

    html = client.get("/login").get_data(as_text=True)
    assert "Log in to Sinergi" in html
    assert "Masuk ke Sinergi" not in html
    assert '<html lang="en">' in html
