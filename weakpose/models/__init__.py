"""Networks: plain ``nn.Module``s with documented tensor shapes and units."""

from weakpose.models.encoder_decoder import (
    EncoderDecoder,
    EncoderDecoderConfig,
    NVSLatent,
    latent_features,
    reconstruct,
)
from weakpose.models.latent_pose import LatentPoseRegressor
from weakpose.models.mlp_lifter import MLPLifter
from weakpose.models.repnet import RepNetLifter, RepNetOutput
from weakpose.models.resnet import (
    ResNet,
    build_resnet,
    load_torchvision_weights,
    resnet18,
    resnet34,
    resnet50,
    resnext50_32x4d,
)
from weakpose.models.smpl_regressor import SMPLRegression, SMPLRegressor
from weakpose.models.temporal import StridedTrainingTwin, TemporalLifter, TrajectoryModel, reproject

__all__ = [
    "EncoderDecoder",
    "EncoderDecoderConfig",
    "NVSLatent",
    "reconstruct",
    "latent_features",
    "LatentPoseRegressor",
    "MLPLifter",
    "RepNetLifter",
    "RepNetOutput",
    "ResNet",
    "build_resnet",
    "load_torchvision_weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnext50_32x4d",
    "SMPLRegression",
    "SMPLRegressor",
    "TemporalLifter",
    "StridedTrainingTwin",
    "TrajectoryModel",
    "reproject",
]
