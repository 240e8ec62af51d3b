"""Networks: plain ``nn.Module``s with documented tensor shapes and units."""
from weakpose.models.mlp_lifter import MLPLifter
from weakpose.models.repnet import RepNetLifter, RepNetOutput
from weakpose.models.temporal import StridedTrainingTwin, TemporalLifter, TrajectoryModel, reproject

__all__ = ["MLPLifter", "RepNetLifter", "RepNetOutput", "TemporalLifter", "StridedTrainingTwin", "TrajectoryModel", "reproject"]
