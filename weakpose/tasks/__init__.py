"""Training tasks: what one optimisation step of a sample script does (plugged into :class:`weakpose.train.Trainer`).

Only :class:`weakpose.train.TrainTask` subclasses live here, each with the config sections it is built from beside
it (``OptimConfig``, ``LossConfig``, ...: the dataclasses a sample script's ``Config`` holds, where each default
is written once; the task's keyword defaults and its ``from_config`` read them). The networks, datasets, losses,
metrics and caches they use live in their rooms (:mod:`weakpose.models`, :mod:`weakpose.data.datasets`,
:mod:`weakpose.losses`, :mod:`weakpose.metrics`, :mod:`weakpose.priors`).
"""

from weakpose.tasks.nvs import NVSTask
from weakpose.tasks.pose_from_latent import PoseFromLatentTask
from weakpose.tasks.pose_prior import PosePriorTask
from weakpose.tasks.repnet import RepNetTask
from weakpose.tasks.smpl_from_enc import SMPLFromEncTask
from weakpose.tasks.smpl_prior import SMPLPriorTask
from weakpose.tasks.supervised_lifter import SupervisedLifterTask
from weakpose.tasks.video_gan import VideoGanTask

__all__ = [
    "NVSTask",
    "PoseFromLatentTask",
    "PosePriorTask",
    "RepNetTask",
    "SMPLFromEncTask",
    "SMPLPriorTask",
    "SupervisedLifterTask",
    "VideoGanTask",
]
