"""The embedded default: Human3.6M-format keypoints from the shipped CMU motion (:mod:`.keypoints`), the rendered
multi-view image set (:mod:`.images`) and its room and crops (:mod:`.scene`).

``from weakpose.data.synthetic import make_synthetic, ensure_synthetic, ...`` gives the keypoint generator's API.
"""

from weakpose.data.synthetic.keypoints import *  # noqa: F401,F403
from weakpose.data.synthetic.keypoints import __all__  # noqa: F401
