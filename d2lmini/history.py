"""What one ``Trainer.fit`` returns: the metrics of every finished epoch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch metrics of one ``fit``: a list of records, one dict per epoch.

    ``history["val_acc"]`` gives one metric as a list over epochs,
    ``history.final`` the last record.  ``interrupted`` tells whether
    training was stopped with Ctrl-C.  With ``Trainer(keep_best=...)``,
    ``best_epoch`` is the 1-based number of the epoch whose weights the model
    kept (None otherwise), and ``stopped_early`` tells whether ``patience``
    ended training before ``max_epochs``.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    device: str = "cpu"
    interrupted: bool = False
    best_epoch: int | None = None
    stopped_early: bool = False

    def __getitem__(self, key: str) -> list[float]:
        if isinstance(key, int):
            raise KeyError(f"a History is indexed by metric, such as history['val_acc']; one epoch's record is "
                           f"history.records[{key}] (the last: history.final).")  # fmt: skip
        if self.records and key not in self.records[0]:
            raise KeyError(f"no metric {key!r}; this history has {self.keys()}.")
        return [record[key] for record in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def keys(self) -> list[str]:
        return list(self.records[0]) if self.records else []

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's record (empty if no epoch finished)."""
        return self.records[-1] if self.records else {}

    def describe(self, index: int = -1) -> str:
        """One epoch's record as a short line of text."""
        record = self.records[index]
        parts = [f"epoch {int(record['epoch'])}"]
        parts += [f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds")]
        parts.append(f"{record['seconds']:.1f}s")
        return ", ".join(parts)

    def __repr__(self) -> str:
        status = ", interrupted" if self.interrupted else ""
        status += ", stopped early" if self.stopped_early else ""
        status += f", best epoch {self.best_epoch}" if self.best_epoch is not None else ""
        last = f"; last: {self.describe(-1)}" if self.records else ""
        return f"History({len(self)} epochs on {self.device}{status}{last})"
