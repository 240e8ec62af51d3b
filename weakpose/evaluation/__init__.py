"""Evaluation: whole-sequence prediction of every view (:mod:`.predict`), per-action tables under a protocol
(:mod:`.tables`), reference predictions such as the closest-pose oracle (:mod:`.references`) and the
``weakpose evaluate`` / ``weakpose lift`` commands (:mod:`.commands`)."""

from weakpose.evaluation.predict import (
    collate_keep_lists,
    predict_roots,
    predict_sequences,
    predict_views,
    progress,
)
from weakpose.evaluation.references import closest_pose
from weakpose.evaluation.tables import evaluate_views, lifter_protocol, report

__all__ = [
    "predict_views",
    "predict_sequences",
    "predict_roots",
    "evaluate_views",
    "report",
    "lifter_protocol",
    "progress",
    "collate_keep_lists",
    "closest_pose",
]
