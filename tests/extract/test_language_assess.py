"""Language detection and the teaser/paywall assessment."""

from __future__ import annotations

import pytest

from watcher.extract import assess_text, detect_language
from watcher.extract.language import choose_language, normalise_code
from watcher.types import ExtractedPage

SAMPLES = {
    "en": "The government announced on Tuesday that it would raise taxes on fuel next year.",
    "de": "Die Regierung hat am Dienstag angekündigt, die Steuern auf Kraftstoff zu erhöhen.",
    "fr": "Le gouvernement a annoncé mardi qu'il augmenterait les taxes sur le carburant.",
    "es": "El gobierno anunció el martes que aumentará los impuestos sobre el combustible.",
    "pt": "O governo anunciou na terça-feira que vai aumentar os impostos sobre combustíveis.",
    "ru": "Правительство объявило во вторник, что повысит налоги на топливо в следующем году.",
    "ar": "أعلنت الحكومة يوم الثلاثاء أنها سترفع الضرائب على الوقود العام المقبل.",
    "zh": "政府周二宣布，明年将提高燃油税，以减少财政赤字并鼓励节能。",
}


@pytest.mark.parametrize(("code", "text"), sorted(SAMPLES.items()))
def test_detects_common_news_languages(code: str, text: str) -> None:
    assert detect_language(text) == code
    assert detect_language(text) == detect_language(text)  # deterministic


def test_too_short_is_unknown() -> None:
    assert detect_language("") is None
    assert detect_language("OK") is None


@pytest.mark.parametrize(("value", "code"), [
    ("en-GB", "en"), ("EN", "en"), ("pt_BR", "pt"), ("de", "de"), ("", None), (None, None),
    ("english", None), ("x", None)])
def test_normalise_code(value: str | None, code: str | None) -> None:
    assert normalise_code(value) == code


def test_declaration_believed_unless_clearly_contradicted() -> None:
    long_de = " ".join([SAMPLES["de"]] * 5)
    assert choose_language("en", long_de) == "de"  # a shared template's lang="en"
    assert choose_language("de-AT", SAMPLES["en"][:40]) == "de"  # short text: trust the page
    assert choose_language("hr", "Vlada je u utorak najavila da će povećati porez.") == "hr"
    assert choose_language(None, SAMPLES["fr"]) == "fr"
    assert choose_language("es", "") == "es"


def page(paragraphs: tuple[str, ...], paywall: bool = False) -> ExtractedPage:
    return ExtractedPage(title="t", description="", paragraphs=paragraphs, paywall=paywall)


def test_paywall_marker_is_partial() -> None:
    assert assess_text(page(("x" * 5000,), paywall=True), None) == "partial"


def test_much_shorter_than_the_site_usual_is_partial() -> None:
    teaser = ("Subscribe to read the rest of this story about the election.",)
    assert assess_text(page(teaser), 4000) == "partial"
    assert assess_text(teaser, 4000) == "partial"


def test_new_site_or_normal_length_is_page() -> None:
    assert assess_text(page(("short",)), None) == "page"  # no typical length yet
    assert assess_text(page(("x" * 1500,)), 4000) == "page"  # a quarter of usual or more
    # A brief on a long-read site: under a quarter, but above the absolute teaser ceiling.
    assert assess_text(page(("x" * 1600,)), 20000) == "page"
