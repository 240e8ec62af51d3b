"""Training tasks: what one optimisation step of a sample script does (plugged into :class:`weakpose.train.Trainer`)."""
from weakpose.tasks.supervised_lifter import SupervisedLifterTask

__all__ = ["SupervisedLifterTask"]
