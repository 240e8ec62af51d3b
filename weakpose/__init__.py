"""weakpose: weakly-supervised 3D human pose and shape estimation with adversarial priors.

``weakpose.lift(keypoints, layout=..., image_size=..., fps=...)`` lifts 2D keypoints to 3D in one call
(:mod:`weakpose.lifting`); everything else lives in the subpackages.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so `import weakpose` stays light (no torch import until the API is used).
    if name in ("lift", "LiftResult"):
        from weakpose import lifting

        return getattr(lifting, name)
    raise AttributeError(f"module 'weakpose' has no attribute {name!r}")
