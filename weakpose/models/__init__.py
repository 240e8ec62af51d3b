"""Networks: plain ``nn.Module``s with documented tensor shapes and units."""
from weakpose.models.mlp_lifter import MLPLifter

__all__ = ["MLPLifter"]
