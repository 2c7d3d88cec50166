"""The language-identification model, loaded when this module is imported.

Loading it is slow (a 4.5 MB compressed naive-Bayes model; docs/extraction.md says how
slow), so it lives in its own module: the worker pool preloads it once in its fork server
and every worker inherits it, while processes that never detect a language (the CLI,
``watcher check``) never pay for it.
"""

from __future__ import annotations

from py3langid.langid import MODEL_FILE, LanguageIdentifier

IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
# Only ISO 639-1 codes are stored; the few ISO 639-3-only labels (Wu, Ligurian...) are left
# out so that the model never answers with a code the rest of the watcher cannot use.
IDENTIFIER.set_languages([label for label in IDENTIFIER.labels if len(label) == 2])
