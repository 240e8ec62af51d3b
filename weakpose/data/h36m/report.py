"""What a Human3.6M loader found, loaded, trimmed and skipped, and why.

Releases found in the wild miss a few sequences or carry a corrupt file; a loader must say so instead of crashing
or silently returning less data. Every loader in :mod:`weakpose.data.h36m.loaders` returns a :class:`LoadReport` next to
its sequences; ``print(report)`` shows a summary, ``report.entries`` the details.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

# Reasons, as short stable strings (they are what a user greps for and what tests compare against).
EXCLUDED = "excluded"  # a documented default exclusion (S11 Directions) or a user exclusion
MISSING_3D = "missing 3D"  # 2D present, no 3D for the sequence (skipped when 3D was asked for)
MISSING_2D = "missing 2D"  # 3D present, no 2D for the sequence or for one camera
MISSING_CAMERA = "missing camera"  # no calibration for (subject, camera): that view has no GT 2D / camera
UNKNOWN_CAMERA = "unknown camera"  # a camera id that Human3.6M does not have
LENGTH_TRIMMED = "length mismatch trimmed"  # 2D and 3D lengths differed; all were cut to the shortest
LENGTH_MISMATCH = "length mismatch"  # lengths differed by more than the allowed trim: sequence skipped
CORRUPT = "corrupt"  # unreadable file, missing key, wrong shape, NaNs, wrong units
DUPLICATE = "duplicate"  # two files map to the same canonical (subject, action[, camera])
MISSING_SEQUENCE = "missing sequence"  # a protocol subject has fewer than 2 sequences of an action
UNKNOWN_ACTION = "unknown action"  # a file whose name is not one of the 15 Human3.6M actions

#: Reasons after which the sequence (or view) is still loaded; every other reason means "not loaded".
NOTE_REASONS = frozenset({LENGTH_TRIMMED})


@dataclass(frozen=True)
class ReportEntry:
    """One event: ``subject``/``action`` (canonical names), optional ``camera``, a reason and a detail line."""

    subject: str
    action: str
    reason: str
    detail: str = ""
    camera: Optional[str] = None

    def __str__(self) -> str:
        where = f"{self.subject}/{self.action}" + (f" camera {self.camera}" if self.camera else "")
        return f"{where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class LoadReport:
    """Sequences found in a source, those loaded, and every skip or caveat with its reason.

    ``found`` and ``loaded`` hold ``(subject, action)`` pairs. ``entries`` holds skips (the sequence or one of its
    camera views was not loaded) and notes (loaded with a caveat, e.g. trimmed); :meth:`skipped` and
    :meth:`notes` separate them.
    """

    source: str = ""
    found: List[Tuple[str, str]] = field(default_factory=list)
    loaded: List[Tuple[str, str]] = field(default_factory=list)
    entries: List[ReportEntry] = field(default_factory=list)

    def add(self, subject: str, action: str, reason: str, detail: str = "", camera: Optional[str] = None) -> None:
        self.entries.append(ReportEntry(subject, action, reason, detail, camera))

    def skipped(self, reason: Optional[str] = None) -> List[ReportEntry]:
        """Entries that removed a sequence or a view (optionally only those with ``reason``)."""
        return [e for e in self.entries if e.reason not in NOTE_REASONS and (reason is None or e.reason == reason)]

    def notes(self, reason: Optional[str] = None) -> List[ReportEntry]:
        """Entries for data that was loaded with a caveat (e.g. a trimmed length mismatch)."""
        return [e for e in self.entries if e.reason in NOTE_REASONS and (reason is None or e.reason == reason)]

    def by_reason(self) -> Counter:
        return Counter(e.reason for e in self.entries)

    def merge(self, other: "LoadReport") -> "LoadReport":
        """A new report holding both reports' content (used when selecting or splitting loaded data)."""
        return LoadReport(
            source=" + ".join(s for s in (self.source, other.source) if s),
            found=self.found + other.found,
            loaded=self.loaded + other.loaded,
            entries=self.entries + other.entries,
        )

    def summary(self, max_lines: int = 20) -> str:
        """A few lines: counts, then up to ``max_lines`` entries (skips first)."""
        not_loaded = len(set(self.found) - set(self.loaded))
        views = len([e for e in self.skipped() if e.camera is not None])
        lines = [
            f"Human3.6M load report{' for ' + self.source if self.source else ''}: "
            f"{len(self.found)} sequences found, {len(self.loaded)} loaded, {not_loaded} skipped, "
            f"{views} camera views skipped, {len(self.notes())} notes"
        ]
        counts = self.by_reason()
        if counts:
            lines.append("  by reason: " + ", ".join(f"{r}: {n}" for r, n in sorted(counts.items())))
        # Sequences that were found but not loaded first, then lost views, then counts of missing files, notes.
        skipped = self.skipped()
        ordered = [e for e in skipped if e.camera is None and e.reason != MISSING_SEQUENCE] + [
            e for e in skipped if e.camera is not None
        ]
        body = [f"  - {e}" for e in ordered]
        missing: dict = {}
        for e in skipped:
            if e.reason == MISSING_SEQUENCE:
                missing.setdefault(e.subject, []).append(e.action)
        body += [
            f"  - {subject}: fewer than 2 sequences of {len(actions)} actions: {', '.join(actions)}"
            for subject, actions in missing.items()
        ]
        body += [f"  - {e}" for e in self.notes()]
        lines += body[:max_lines]
        if len(body) > max_lines:
            lines.append(f"  ... and {len(body) - max_lines} more (see report.entries)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
