"""The ``weakpose`` command: one entry point, one subcommand per job, each implemented where its code lives."""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional

# subcommand -> ("module[:function]", one-line help); the function defaults to main(argv). Modules are imported
# lazily so `weakpose --help` stays fast.
SUBCOMMANDS = {
    "make-synthetic": (
        "weakpose.commands.make_synthetic",
        "write the embedded-default keypoint dataset (Human3.6M layout); --images: the image set",
    ),
    "convert-h36m": ("weakpose.data.h36m.convert", "convert an original Human3.6M release to VideoPose3D npz"),
    "convert-h36m-images": (
        "weakpose.data.h36m.convert_images",
        "crop an original Human3.6M release (videos/frames, masks) into the multi-view layout",
    ),
    "convert-smpl": ("weakpose.body.model_file", "convert an official SMPL .pkl (no chumpy needed) to weakpose's .npz"),
    "evaluate": (
        "weakpose.evaluation.commands:evaluate_main",
        "per-action errors of a saved lifter on the test subjects",
    ),
    "lift": (
        "weakpose.evaluation.commands:lift_main",
        "lift a 2D keypoint file (any common detector format) to 3D: npz + mp4",
    ),
}


def _usage() -> str:
    lines = ["usage: weakpose <command> [options]", "", "commands:"]
    lines += [f"  {name:<20} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `weakpose <command> --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"weakpose: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, function = SUBCOMMANDS[name][0].partition(":")
    entry = getattr(importlib.import_module(module_name), function or "main")
    return int(entry(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
