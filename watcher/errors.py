"""The exception tree. Library exceptions are translated where they enter.

    WatcherError
    ├── ConfigError          bad watcher.yaml / rules.yaml (carries every Problem found)
    ├── FetchError           a request failed (network, status, limits, SSRF refusal)
    │   ├── BlockedAddressError   the SSRF guard refused the target
    │   └── ResponseTooLargeError decoded body exceeded the cap
    ├── ParseError           a feed could not be parsed into entries
    ├── ExtractError         an article page gave no usable text
    ├── StoreError           the index or the article folder could not be written
    │   └── StateLockedError another daemon holds the state folder
    └── DeliveryError        a channel refused or could not be reached
        ├── TransientDeliveryError  retry later
        └── PermanentDeliveryError  do not retry
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One user-facing problem in a file, printed as ``file:line:col: message``."""

    file: str
    line: int
    col: int
    message: str
    detail: str = ""  # extra lines (e.g. a query with a caret under the column)

    def __str__(self) -> str:
        where = f"{self.line}:{self.col}" if self.col else str(self.line)  # 0: no column
        head = f"{self.file}:{where}: {self.message}"
        return f"{head}\n{self.detail}" if self.detail else head


class WatcherError(Exception):
    """Root of every error the watcher raises on purpose."""


class ConfigError(WatcherError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FetchError(WatcherError):
    """A request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class BlockedAddressError(FetchError):
    pass


class ResponseTooLargeError(FetchError):
    pass


class ParseError(WatcherError):
    pass


class ExtractError(WatcherError):
    pass


class StoreError(WatcherError):
    pass


class FeedNotInConfig(WatcherError):
    """Work named a feed this process's config does not have: in a cluster, a member that
    has not yet taken up an edit that added it (or one that removed it)."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        super().__init__(f"feed {feed!r} is not in this process's config")


class StateLockedError(StoreError):
    pass


class DeliveryError(WatcherError):
    pass


class TransientDeliveryError(DeliveryError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    pass
