"""torch Datasets: pose windows and frames with their batch generators (:mod:`.poses`), the multi-view image
layout (:mod:`.multiview`), novel-view pairs (:mod:`.nvs_pairs`), the latent cache of a frozen encoder
(:mod:`.latents`) and the pools of real poses and SMPL parameters that priors learn from (:mod:`.pose_pool`).

``from weakpose.data.datasets import PoseWindowDataset, PoseFrameDataset`` gives the pose datasets.
"""

from weakpose.data.datasets.poses import *  # noqa: F401,F403
from weakpose.data.datasets.poses import __all__  # noqa: F401
