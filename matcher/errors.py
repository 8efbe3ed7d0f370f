"""Typed domain errors; the gRPC shell maps each kind to one status code in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, named as the caller wrote it (e.g. ``location.point.lat``)."""

    field: str
    description: str


class MatcherError(Exception):
    """The root of every error the domain raises on purpose."""


class InvalidArgument(MatcherError):
    """A request the caller must fix: names each bad field and why."""

    def __init__(self, *violations: FieldViolation) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def of(cls, field: str, description: str) -> InvalidArgument:
        """One violation, the common case."""
        return cls(FieldViolation(field, description))


class NotFound(MatcherError):
    """A resource the caller named does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class FeedError(MatcherError):
    """A feed record that cannot be accepted, located precisely: file, line, field, reason."""

    def __init__(self, *, path: str, line: int, field: str, reason: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(f"{path}:{line}: {field}: {reason}")


class FeedRejected(MatcherError):
    """A feed refused whole; ``errors`` names every bad record, ``summary`` says why in a line."""

    def __init__(self, path: str, errors: list[FeedError], *, summary: str = "") -> None:
        self.path = path
        self.errors = errors
        self.summary = summary or f"feed {path} refused: {len(errors)} problem(s)"
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{self.summary}\n{shown}{more}")


class FailedPrecondition(MatcherError):
    """A request the service cannot carry out in its current configuration or state."""


class Unavailable(MatcherError):
    """The service cannot answer yet (its feed is still loading); the caller may retry."""


class UpdateConflict(MatcherError):
    """An update id already used for a different update."""

    def __init__(self, update_id: str) -> None:
        self.update_id = update_id
        super().__init__(f"update {update_id!r} was already used for a different update")


class Abandoned(MatcherError):
    """The caller stopped waiting (deadline passed or call cancelled), so the work stopped too."""
