"""A short circuit breaker per provider: after repeated failures, skip it for a while."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Failures that retrying soon cannot cure: a used-up quota, a refused key.
LASTING = frozenset({"quota", "auth"})


@dataclass
class CircuitBreaker:
    failures_to_open: int = 3
    open_seconds: float = 30.0
    lasting_open_seconds: float = 900.0  # then one trial call, as after any opening
    _failures: dict[str, int] = field(default_factory=dict)
    _open_until: dict[str, float] = field(default_factory=dict)

    def available(self, provider: str) -> bool:
        """Closed, or open long enough that one trial call may go through."""
        return time.monotonic() >= self._open_until.get(provider, 0.0)

    def record_success(self, provider: str) -> None:
        self._failures.pop(provider, None)
        self._open_until.pop(provider, None)

    def record_failure(self, provider: str, kind: str = "server") -> None:
        count = self._failures.get(provider, 0) + 1
        self._failures[provider] = count
        if kind in LASTING:
            self._open_until[provider] = time.monotonic() + self.lasting_open_seconds
        elif count >= self.failures_to_open:
            self._open_until[provider] = time.monotonic() + self.open_seconds
