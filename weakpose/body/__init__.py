"""Body models: SMPL-format files (load/validate/convert), linear blend skinning, and the ``BodyModel`` layer.

``weakpose.body.model_file`` (NumPy only) reads weakpose ``.npz`` and official SMPL ``.pkl`` files without chumpy;
``weakpose.body.lbs`` holds the SMPL maths as pure torch functions (Loper et al. 2015); ``weakpose.body.model``
the batched ``BodyModel`` nn.Module. The torch-based names are imported on first use, so NumPy-only users of this
package (file conversion, retargeting) do not pay for importing torch.
"""

from weakpose.body.model_file import (
    BodyModelData,
    BodyModelFileError,
    MissingKeyError,
    convert_smpl,
    load_body_model_file,
    save_body_model_file,
    validate_body_model,
)

_LAZY = {"BodyModel": "weakpose.body.model", "BodyOutput": "weakpose.body.model", "lbs": "weakpose.body.lbs"}

__all__ = [
    "BodyModel",
    "BodyOutput",
    "BodyModelData",
    "BodyModelFileError",
    "MissingKeyError",
    "convert_smpl",
    "load_body_model_file",
    "save_body_model_file",
    "validate_body_model",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "lbs" else getattr(module, name)
    raise AttributeError(f"module 'weakpose.body' has no attribute {name!r}")
