"""The language model's numpy feature scan gives py3langid's own answers, to the last bit."""

from __future__ import annotations

import random

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from tests.support.data import corpus_page, ground_truth
from watcher.errors import ExtractError
from watcher.extract import extract_page
from watcher.extract._langmodel import IDENTIFIER, LONGEST_FEATURE_BYTES, load_identifier


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    texts = []
    for page_id, truth in sorted(ground_truth().items()):
        try:
            page = extract_page(corpus_page(page_id), truth.get("url", "https://example.com/"))
        except ExtractError:
            continue
        texts.append("\n".join(page.paragraphs))
    return texts


def _hostile_bytes() -> list[bytes]:
    rng = random.Random(12)
    noise = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
             for _ in range(100)]
    return [*noise, b"", b"a", bytes(range(256)) * 3, b"\xff" * 500, b"aaaa" * 300,
            "żółć ЖЖ 日本語 🙂".encode()]


def test_the_scan_counts_the_features_py3langid_counts(corpus_texts: list[str]) -> None:
    samples = [IDENTIFIER._encode(text[:4000]) for text in corpus_texts] + _hostile_bytes()
    assert len(samples) > 150
    for data in samples:
        expected = visit_counts(IDENTIFIER.tk_nextmove, IDENTIFIER._rowbase,
                                IDENTIFIER.tk_output, data) or {}
        # same features, same counts, same order: the score's sum runs in that order
        assert list(IDENTIFIER.feature_counts(data).items()) == list(expected.items())


def test_the_answers_and_probabilities_are_py3langids(corpus_texts: list[str]) -> None:
    plain = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    plain.set_languages([label for label in plain.labels if len(label) == 2])
    texts = [text[:4000] for text in corpus_texts] + [
        "The government announced on Tuesday", "Die Regierung hat am Dienstag", "", "OK"]
    # and texts of no language at all: bytes read as Latin-1, and as UTF-8 where they can be
    texts += [data.decode("latin-1") for data in _hostile_bytes()]
    texts += [data.decode("utf-8", "replace") for data in _hostile_bytes()]
    for text in texts:
        assert IDENTIFIER.classify(text) == plain.classify(text)


def test_the_scores_read_rows_of_a_contiguous_table() -> None:
    """The chosen languages' table is kept row by row, where a text's features are read."""
    assert IDENTIFIER.nb_ptc.flags["C_CONTIGUOUS"]
    assert IDENTIFIER.nb_ptc.shape[1] == len(IDENTIFIER.nb_classes)


def test_no_feature_of_the_model_is_longer_than_the_scan_looks_back() -> None:
    """In an Aho-Corasick scanner a state's shortest path from the start spells its trie
    node, so the deepest state by breadth-first search is the longest feature prefix."""
    moves = np.frombuffer(IDENTIFIER.tk_nextmove, dtype=np.uint32)
    row_starts = np.asarray(IDENTIFIER._rowbase, dtype=np.int64)
    seen = np.zeros(len(row_starts), dtype=bool)
    seen[0] = True
    frontier, depth = np.array([0]), 0
    while len(frontier):
        depth += 1
        reached = []
        for start in range(0, len(frontier), 4096):
            rows = row_starts[frontier[start:start + 4096]]
            reached.append(np.unique(moves[rows[:, None] + np.arange(256)]))
        found = np.unique(np.concatenate(reached)).astype(np.int64)
        frontier = found[~seen[found]]
        seen[frontier] = True
    assert seen.all()
    assert depth - 1 <= LONGEST_FEATURE_BYTES


def test_the_model_read_through_the_cache_is_the_one_py3langid_loads() -> None:
    """``load_identifier`` builds from the cached arrays what py3langid builds from its file."""
    plain = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ours = load_identifier()
    assert ours.nb_classes == plain.nb_classes
    assert ours.tk_output == plain.tk_output
    for name in ("tk_nextmove", "tk_row"):
        assert (getattr(ours, name).typecode, getattr(ours, name)) == (
            getattr(plain, name).typecode, getattr(plain, name))
    for name in ("nb_ptc", "nb_pc"):
        assert getattr(ours, name).dtype == getattr(plain, name).dtype
        assert np.array_equal(getattr(ours, name), getattr(plain, name))
    assert ours._rowbase == plain._rowbase
