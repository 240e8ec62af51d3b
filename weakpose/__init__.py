"""weakpose: weakly-supervised 3D human pose and shape estimation with adversarial priors."""
__version__ = "0.1.0"
