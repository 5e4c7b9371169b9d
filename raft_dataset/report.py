"""What a build did, counted in one place: items per stage and what each stage dropped, by reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Stages that drop things, as they appear in `BuildReport.dropped`, the card and the summary.
CORPUS = "corpus"  # files (or records) skipped while reading
SAMPLES = "samples"  # samples rejected by validation (or whose answer could not be written)


@dataclass
class BuildReport:
    """Counts of one build.

    Attributes:
        counts: Items produced per stage: "documents", "chunks", "queries", "samples".
        dropped: Stage -> reason -> how many items that stage dropped for that reason.
        dropped_items: (stage, reason, where) of every drop that names its item (a file, a file
            line), in order, so skipped files can be listed by name and not only counted.
    """

    counts: Counter = field(default_factory=Counter)
    dropped: dict[str, Counter] = field(default_factory=dict)
    dropped_items: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def drop(self, stage: str, reason: str, n: int = 1, where: str | None = None) -> None:
        """Count `n` items dropped by `stage` for `reason`; `where` names the item (file or file:line)."""
        self.dropped.setdefault(stage, Counter())[reason] += n
        if where is not None:
            self.dropped_items.append((stage, reason, where))

    def dropped_in(self, stage: str) -> Counter:
        """The drop counts of one stage (empty when it dropped nothing)."""
        return self.dropped.setdefault(stage, Counter())

    @property
    def documents(self) -> int:
        return self.counts["documents"]

    @property
    def skipped(self) -> Counter:
        """Files (or records) skipped while reading the corpus, by reason."""
        return self.dropped_in(CORPUS)

    @property
    def rejected(self) -> Counter:
        """Samples rejected, by reason."""
        return self.dropped_in(SAMPLES)

    def summary(self, stage: str) -> str:
        """"reason: n, reason: n" for one stage, most common first, or "none"."""
        return ", ".join(f"{k}: {v}" for k, v in self.dropped_in(stage).most_common()) or "none"
