"""Building digests (pure): candidates -> folded stories grouped by rule -> rendered text,
HTML and Slack blocks. No I/O here: the outbox reads and fixes, ``watcher.notify`` sends."""

from watcher.digest.build import BuildSpec, build_digest
from watcher.digest.folding import FOLD_THRESHOLD, FoldText, fold_groups
from watcher.digest.model import (
    Candidate,
    Digest,
    DigestItem,
    DigestSection,
    FeedNotice,
    digest_from_json,
    digest_to_json,
)
from watcher.digest.present import Omission, omission_note, subject
from watcher.digest.render import Rendered, render_all, render_html, render_text
from watcher.digest.slack import render_slack

__all__ = [
    "FOLD_THRESHOLD", "BuildSpec", "Candidate", "Digest", "DigestItem", "DigestSection",
    "FeedNotice", "FoldText", "Omission", "Rendered", "build_digest", "digest_from_json",
    "digest_to_json", "fold_groups", "omission_note", "render_all", "render_html", "render_slack",
    "render_text", "subject",
]
