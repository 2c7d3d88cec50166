"""The text ``watcher run --once`` prints about its cycle."""

from __future__ import annotations

from collections import Counter

from watcher.runtime import CycleSummary


def render_summary(summary: CycleSummary) -> str:
    reports = summary.reports
    ok = [r for r in reports if r.status != "error"]
    failed = [r for r in reports if r.status == "error"]
    per_rule: Counter[str] = Counter()
    for report in reports:
        per_rule.update(report.matches)
    lines = [
        f"feeds: {len(ok)} ok, {len(failed)} failed",
        f"new entries: {sum(r.new_entries for r in reports)}",
        f"articles stored: {sum(len(r.stored) for r in reports)}",
        f"articles matched: {sum(r.matched for r in reports)}",
    ]
    if per_rule:
        lines.append("matches per rule:")
        lines.extend(f"  {rule}: {count}" for rule, count in sorted(per_rule.items()))
    for report in failed:
        lines.append(f"failed: {report.feed}: {report.error}")
    return "\n".join(lines)
