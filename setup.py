"""mlctl: multi-level (sentence + word) contrastive learning for cross-lingual alignment."""
from pathlib import Path

from setuptools import find_packages
from setuptools import setup

setup(
    name="mlctl",
    version="0.1.0",
    description="ML-CTL: multi-level contrastive learning for cross-lingual alignment of multilingual encoders",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["mlctl", "mlctl.*", "modeling_mlctl", "data_prep"]),
    py_modules=["train_mlctl", "run_xtreme_tasks"],
    package_data={"data_prep": ["sample/*", "sample/words/*"]},
    entry_points={"console_scripts": [
        "mlctl-prep = data_prep.__main__:main",
        "mlctl-train = train_mlctl:cli",
        "mlctl-xtreme = run_xtreme_tasks:cli",
        "mlctl-demo = mlctl.demo:main",
        "mlctl-mine = mlctl.mining:cli",
        "mlctl-align = mlctl.alignment:cli",
        "mlctl-export = mlctl.export:cli",
    ]},
    install_requires=[
        "torch>=2.1",
        "transformers>=5.20,<6",  # 5.20 brought SubConfigSpec; the save/push tests ran on 5.20.0 and 5.24.0
        "tokenizers>=0.21",
        "safetensors>=0.4",
        "huggingface_hub>=1.0",
        "accelerate>=1.0",
        "datasets>=3.0",
        "numpy>=1.24",
        "tqdm>=4.60",
        "eflomal>=2.0",
        "stopwordsiso>=0.6",
        "faiss-cpu>=1.8",
        "seqeval>=1.2",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
    ],
    extras_require={"test": ["pytest>=8", "pytest-timeout>=2.2", "sentence-transformers>=6.2,<7"]},
)
