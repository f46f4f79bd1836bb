"""The ablation's settings (`FULL`, `QUICK`), its arms and the data it reads: what sizes a run of
``benchmarks/reproduce_ablation.py`` (the continued ablation extends them in `mlctl.experiments.continued`)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from mlctl.experiments.provenance import REPO_ROOT
from modeling_mlctl import MLCTLConfig

#: The shared data folder (multi30k, tatoeba, udpos), read and never copied into the repository.
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
#: The folders of the shared data folder the experiments read.
DATA_FOLDERS = ("multi30k", "tatoeba", "udpos")
#: Multi30k languages paired with English, and the languages of the Tatoeba test.
MULTI30K_TARGETS = ("de", "fr", "cs")
TATOEBA_TARGETS = ("de", "fr")
POS_TARGET = "de"
#: Share of UD English-EWT dev sentences used to fine-tune POS; the rest selects the checkpoint.
POS_TRAIN_SHARE = 0.8
#: The two regimes: the standard one (large batch, float32) and the low-resource one (small batch, bfloat16).
REGIMES = ("standard", "low-resource")


class ExperimentError(Exception):
    """A problem that stops an experiment (one line: the file or run and what is wrong)."""


@dataclass(frozen=True)
class Settings:
    """Everything that sizes a run; identical for every arm of a regime. The defaults are the full run's."""

    pairs_per_language: int = 10_000
    validation_fraction: float = 0.05
    vocab_size: int = 8000
    max_length: int = 64
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    steps: int = 300
    batch_size: int = 64
    low_resource_batch_size: int = 8
    learning_rate: float = 5e-4
    mlm_weight: float = MLCTLConfig.mlm_weight
    seeds: tuple[int, ...] = (1, 2, 3)
    low_resource_arms: tuple[str, ...] = ("info-snt", "CZ-snt", "ML-CTL-info", "ML-CTL-CZ")
    pos_steps: int = 80
    pos_learning_rate: float = 1e-3
    word_pairs_per_language: int = 1000


FULL = Settings()
QUICK = replace(
    FULL, pairs_per_language=2000, vocab_size=4000, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128,
    steps=60, batch_size=32, seeds=(1, 2), low_resource_arms=("ML-CTL-CZ",), pos_steps=30,
    word_pairs_per_language=300,
)

#: The settings the cached shared data (corpus, tokenizer, encoder config, WPS) depend on.
SHARED_DATA_FIELDS = ("pairs_per_language", "validation_fraction", "vocab_size", "max_length", "hidden_size",
                      "num_layers", "num_heads", "intermediate_size")


def shared_data_settings(settings: Settings) -> dict:
    """The values of `SHARED_DATA_FIELDS` in `settings`."""
    return {name: getattr(settings, name) for name in SHARED_DATA_FIELDS}


@dataclass(frozen=True)
class Arm:
    """One row of the ablation: the ML-CTL settings it trains with (`contrastive_weight` 0: the MLM term alone)."""

    name: str
    levels: str
    loss: str
    contrastive_weight: float = MLCTLConfig.contrastive_weight
    sentence_weight: float = MLCTLConfig.sentence_weight
    batch_sampler: str = "random"

    @property
    def sentence_level_cce(self) -> bool:
        """Whether the arm's CCE does not see the marked word (sentence level, or no contrastive term)."""
        return self.levels == "sentence" or self.contrastive_weight == 0


#: Rows of the table, in the paper's ablation order (baseline first).
ARMS = (
    Arm("MLM only", "sentence+word", "cz_nce", contrastive_weight=0.0),
    Arm("info-snt", "sentence", "info_nce"),
    Arm("CZ-snt", "sentence", "cz_nce"),
    Arm("ML-CTL-info", "sentence+word", "info_nce"),
    Arm("ML-CTL-CZ", "sentence+word", "cz_nce"),
)
ARMS_BY_NAME = {arm.name: arm for arm in ARMS}


def planned_runs(settings: Settings, arms=ARMS) -> list[tuple[str, str, int]]:
    """(regime, arm, seed) of every run, seed-major so that a cut-short run still has every arm."""
    runs = []
    for seed in settings.seeds:
        runs += [("standard", arm.name, seed) for arm in arms]
        runs += [("low-resource", name, seed) for name in settings.low_resource_arms]
    return runs
