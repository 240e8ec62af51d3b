"""Human3.6M: the protocol's constants (:mod:`.protocol`), the readers of every release (:mod:`.readers`), the
loaders that assemble sequences with a report of what was skipped (:mod:`.loaders`, :mod:`.report`) and the
converters of the original release (:mod:`.convert`, :mod:`.convert_images`).

``from weakpose.data.h36m import load_h36m, split_protocol, H36MData, ...`` gives the loaders' API.
"""

from weakpose.data.h36m.loaders import *  # noqa: F401,F403
from weakpose.data.h36m.loaders import __all__  # noqa: F401
