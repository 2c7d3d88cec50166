"""The language-identification model, loaded when this module is imported.

Loading it is slow (a 4.5 MB compressed naive-Bayes model; docs/extraction.md says how
slow), so it lives in its own module: the worker pool preloads it once in its fork server
and every worker inherits it, while processes that never detect a language (the CLI,
``watcher check``) never pay for it. Its arrays come decompressed from the user's cache
after the first load (``extract/modelcache.py``).
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from watcher.extract.modelcache import load_model_arrays

# The longest n-gram of the shipped model, in bytes (tests/extract/test_langmodel.py
# measures it on the model): the scanner's state after any byte depends on no more bytes
# than that before it.
LONGEST_FEATURE_BYTES = 6


class ArrayScanIdentifier(LanguageIdentifier):  # type: ignore[misc]  # untyped library
    """py3langid's classifier, counting its n-gram features with numpy.

    py3langid finds the features of a text by walking its Aho-Corasick scanner one byte
    at a time in Python, the larger half of a detection's cost. The scanner's state at a
    byte is the trie node of the longest feature prefix ending there, so it is the state
    reached from the start over the last ``LONGEST_FEATURE_BYTES`` bytes alone; that walk
    is a few array lookups over every position at once. The features are counted in the
    order of their first sighting, as py3langid's Counter does, and scored by py3langid's
    own code, so every answer and probability is the library's to the last bit
    (tests/extract/test_langmodel.py compares the two on the corpus and on random bytes).
    """

    __slots__ = ("_emits", "_moves", "_row_starts")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._moves = np.frombuffer(self.tk_nextmove, dtype=np.uint32)
        self._row_starts = np.asarray(self._rowbase, dtype=np.int64)
        self._emits = np.asarray(self.tk_output, dtype=np.int64)

    def set_languages(self, langs: list[str] | None = None) -> None:
        super().set_languages(langs)
        # py3langid keeps the chosen languages' columns in a strided copy, so a text's
        # feature rows are gathered one scattered value at a time; in row order each row
        # is one contiguous read. The values, and so the scores, are the same.
        # (``nb_ptc`` is one of py3langid's own slots, which mypy cannot see.)
        self.nb_ptc = np.ascontiguousarray(self.nb_ptc)  # type: ignore[misc,has-type]

    def feature_counts(self, data: bytes) -> dict[int, int]:
        """Each feature seen in ``data`` (UTF-8 bytes) and how often, in the order of
        first sighting: what py3langid's ``visit_counts`` returns."""
        features, counts = self._feature_arrays(data)
        return dict(zip(features.tolist(), counts.tolist(), strict=True))

    def _feature_arrays(self, data: bytes) -> tuple[Any, Any]:
        """``feature_counts`` as two arrays (features, counts), in the same order."""
        none = np.zeros(0, dtype=np.int64)
        letters = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        if not len(letters):
            return none, none
        states = self._moves[self._row_starts[0] + letters]
        for _ in range(LONGEST_FEATURE_BYTES - 1):
            longer = states.copy()
            longer[1:] = self._moves[self._row_starts[states[:-1]] + letters[1:]]
            states = longer
        features = self._emits[states]
        features = features[features >= 0]
        if not len(features):
            return none, none
        found, first, counts = np.unique(features, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        return found[order], counts[order]

    def _raw_score(self, text: bytes) -> Any:
        features, counts = self._feature_arrays(text)
        if not len(features):
            return super()._raw_score(text)
        # py3langid's ``_sparse_score`` on these arrays, without the dict it reads them
        # from: the same float32 counts, in the same order, so the same sum to the bit.
        return np.log1p(counts.astype(np.float32)) @ self.nb_ptc[features] + self.nb_pc


def _stdlib_array(values: Any) -> array[int]:
    """A numpy array of unsigned ints as the stdlib array py3langid's scanner indexes."""
    converted = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    converted.frombytes(np.ascontiguousarray(values).data.cast("B"))
    return converted


def load_identifier() -> ArrayScanIdentifier:
    """py3langid's shipped model as ``LanguageIdentifier.from_model_file`` builds it
    (tests/extract/test_langmodel.py compares the two), its arrays read through the cache."""
    arrays = load_model_arrays(MODEL_DIR / MODEL_FILE)
    return ArrayScanIdentifier(
        np.asarray(arrays["ptc"]), np.asarray(arrays["pc"]), arrays["classes"].tolist(),
        _stdlib_array(arrays["nextmove"]), arrays["out_feat"].tolist(), norm_probs=True,
        tk_row=_stdlib_array(arrays["nextmove_row"]))


IDENTIFIER = load_identifier()
# Only ISO 639-1 codes are stored; the few ISO 639-3-only labels (Wu, Ligurian...) are left
# out so that the model never answers with a code the rest of the watcher cannot use.
IDENTIFIER.set_languages([label for label in IDENTIFIER.labels if len(label) == 2])
