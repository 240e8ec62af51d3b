"""How the models shipped in :mod:`weakpose.pretrained` were trained, from the CMU motion shipped with weakpose:
the held-out split (:mod:`.split`), the virtual-camera recordings (:mod:`.recordings`) and one recipe per model
(:mod:`.lifter`, :mod:`.pose_prior`, :mod:`.smpl_prior`). ``tools/train_pretrained.py`` runs them."""
