"""ML-CTL pre-training on the Hugging Face Trainer (``train_mlctl.py`` is the command line over it): the collator
(`collator`), the data checks (`data`), the trainer and its metrics (`trainer`), gradient caching (`grad_cache`), the
command-line arguments generated from `MLCTLConfig` (`arguments`), the model card (`model_card`) and one training job
(`run`)."""
from mlctl.training.arguments import DataArguments
from mlctl.training.arguments import MLCTLTrainingArguments
from mlctl.training.arguments import ModelArguments
from mlctl.training.arguments import training_argument_parser
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.errors import DiskFullError
from mlctl.training.errors import TrainingDivergedError
from mlctl.training.errors import TrainingSetupError
from mlctl.training.run import build_model
from mlctl.training.run import load_tokenizer
from mlctl.training.run import train
from mlctl.training.trainer import MLCTLTrainer

__all__ = ["DataArguments", "DiskFullError", "MLCTLDataCollator", "MLCTLTrainer", "MLCTLTrainingArguments",
           "ModelArguments", "TrainingDivergedError", "TrainingSetupError", "build_model", "load_tokenizer", "train",
           "training_argument_parser"]
