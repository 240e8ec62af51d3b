"""The SMPL-parameter critic (HMR's discriminator, LSGAN): another name for sample/train_smpl_prior.py.

python sample/train_GAN.py            # the same as: python sample/train_smpl_prior.py
python sample/train_GAN.py --help     # every option of sample/train_smpl_prior.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from weakpose.train.startup import run_script


def _load_script():
    path = Path(__file__).resolve().with_name("train_smpl_prior.py")
    spec = importlib.util.spec_from_file_location("train_smpl_prior", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


_script = _load_script()
Config = _script.Config
SHORTCUTS = _script.SHORTCUTS
main = _script.main

if __name__ == "__main__":
    sys.exit(run_script(main))
