"""Motion: BVH files (:mod:`.bvh`), the CMU motion shipped with weakpose (:mod:`.cmu`), skeleton proportions
(:mod:`.bones`) and the augmentation that films motion through random cameras (:mod:`.augment`)."""
