"""Datasets that hand out whole batches: DataLoader calls ``__getitems__`` with a batch's indices.

A dataset with a ``get_batch(indices) -> dict`` method (the pose datasets of :mod:`weakpose.data.datasets.poses`)
gathers a batch by index arithmetic instead of building and collating one sample at a time. :class:`BatchedDataset`
exposes it to ``DataLoader``; its batches are already collated, so the loader's ``collate_fn`` is :func:`passthrough`.
Sampling (order, sharding, exact resume) is the sampler's business and does not change.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader, Dataset

__all__ = ["BatchedDataset", "passthrough", "batched_loader", "has_get_batch"]


def has_get_batch(dataset: Any) -> bool:
    return callable(getattr(dataset, "get_batch", None))


class BatchedDataset(Dataset):
    """``dataset`` seen by ``DataLoader`` a batch at a time (``__getitems__`` -> ``dataset.get_batch``)."""

    def __init__(self, dataset: Any):
        prepare = getattr(dataset, "prepare", None)
        if callable(prepare):
            prepare()  # before worker processes fork: the prepared arrays are built once and shared
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices) -> Any:
        return self.dataset.get_batch(indices)


def passthrough(batch: Any) -> Any:
    """The collate function of :class:`BatchedDataset`: its batches come collated."""
    return batch


def batched_loader(dataset: Any, **kwargs: Any) -> DataLoader:
    """A ``DataLoader`` that takes whole batches from ``dataset.get_batch`` when it has one (and no ``collate_fn``
    is given); otherwise an ordinary per-sample loader."""
    if has_get_batch(dataset) and kwargs.get("collate_fn") is None:
        dataset, kwargs["collate_fn"] = BatchedDataset(dataset), passthrough
    return DataLoader(dataset, **kwargs)
