"""Builders shared by the train_mlctl tests: a WordPiece tokenizer and WPS datasets from the shipped sample, tiny
ML-CTL models, the training command line, a stopping callback, an offline Hub stand-in, and the worker that the
two-process equivalence test runs under torchrun.

    python -m torch.distributed.run --nproc_per_node 2 tests/train_fixtures.py one-step WORK_DIR BATCH_SIZE OUT.pt \
        [contrastive_mini_batch_size=N] [mlm_mode=MODE] [dtype=float64] [batch_sampler=NAME] \
        [gradient_accumulation_steps=N]
"""
import concurrent.futures
import re
import sys
from pathlib import Path

import datasets
import torch
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel
from transformers import AutoConfig
from transformers import AutoTokenizer
from transformers import TrainerCallback

from data_prep.tokenizer import train_wordpiece_tokenizer
from mlctl.training.arguments import MLCTLTrainingArguments
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.data import prepare_split
from mlctl.training.trainer import MLCTLTrainer
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLForPreTraining

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data_prep" / "sample"
TINY_ENCODER = dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0)
WORD = re.compile(r"\w+")


def sample_lines(src="en", tgt="de", limit=None):
    """Line-aligned (src, tgt) sentences of the shipped sample."""
    read = lambda lang: (SAMPLE_DIR / f"{src}-{tgt}.{lang}").read_text(encoding="utf-8").splitlines()  # noqa: E731
    return list(zip(read(src), read(tgt)))[:limit]


def longest_word_span(text):
    """(start, end) characters of the longest word (the first one on ties)."""
    match = max(WORD.finditer(text), key=lambda m: len(m.group()))
    return match.start(), match.end()


def wps_rows(limit, src="en", tgt="de"):
    """Text-only WPS rows (data_prep's columns) marking the longest word on each side of the sample's pairs."""
    rows = []
    for src_text, tgt_text in sample_lines(src, tgt, limit):
        (s0, s1), (t0, t1) = longest_word_span(src_text), longest_word_span(tgt_text)
        rows.append(dict(src_lang=src, tgt_lang=tgt, src_text=src_text, tgt_text=tgt_text,
                         src_word=src_text[s0:s1], tgt_word=tgt_text[t0:t1], src_char_start=s0, src_char_end=s1,
                         tgt_char_start=t0, tgt_char_end=t1))
    return rows


def build_tokenizer(directory):
    """A WordPiece tokenizer trained on the en-de/en-fr sample, saved to `directory` and reloaded."""
    texts = [text for pair in ("de", "fr") for line in sample_lines("en", pair) for text in line]
    train_wordpiece_tokenizer(texts, vocab_size=600, model_max_length=64).save_pretrained(directory)
    return AutoTokenizer.from_pretrained(directory)


def build_work_dir(directory, n_train=64, n_validation=16, pretokenize=False):
    """A tokenizer, an encoder config and a WPS DatasetDict (train/validation) in `directory`; returns the paths."""
    directory = Path(directory)
    tokenizer = build_tokenizer(directory / "tokenizer")
    rows = wps_rows(n_train + n_validation)
    splits = datasets.DatasetDict({
        "train": datasets.Dataset.from_list(rows[:n_train]),
        "validation": datasets.Dataset.from_list(rows[n_train:]),
    })
    if pretokenize:
        splits = datasets.DatasetDict({
            name: prepare_split(split, tokenizer, 64, None, name) for name, split in splits.items()
        })
    splits.save_to_disk(directory / "wps")
    config = AutoConfig.for_model(**{**TINY_ENCODER, "vocab_size": len(tokenizer)})
    config.save_pretrained(directory / "encoder_config")
    return dict(tokenizer=directory / "tokenizer", wps=directory / "wps", config=directory / "encoder_config")


def tiny_model(vocab_size, seed=0, **mlctl_kwargs):
    torch.manual_seed(seed)
    encoder = AutoConfig.for_model(**{**TINY_ENCODER, "vocab_size": vocab_size})
    return MLCTLForPreTraining(MLCTLConfig(encoder_config=encoder, **mlctl_kwargs))


class GradientRecorder(TrainerCallback):
    """Keeps the (process-averaged) gradients just before the first optimizer step."""

    def __init__(self):
        self.gradients = None

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.gradients is None:
            self.gradients = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


class ReductionCounter(TrainerCallback):
    """Counts the gradient buckets that DDP all-reduces, through a communication hook on the trainer's wrapped model
    that reduces as DDP's default does (0 without DDP)."""

    def __init__(self):
        self.trainer = None
        self.reductions = 0
        self._registered = False

    def on_step_begin(self, args, state, control, **kwargs):
        model = self.trainer.model_wrapped
        if isinstance(model, DistributedDataParallel) and not self._registered:
            model.register_comm_hook(None, self.count_and_reduce)
            self._registered = True

    def count_and_reduce(self, process_group, bucket):
        self.reductions += 1
        return allreduce_hook(process_group, bucket)


def one_step(work_dir, batch_size, output_path, contrastive_mini_batch_size=None, mlm_mode="shared",
             dtype=torch.float32, batch_sampler="random", gradient_accumulation_steps=1, bf16=False):
    """One optimizer step of MLCTLTrainer (with `batch_sampler`) on the work dir's training split with `batch_size`
    pairs per process and micro-batch (gradient-cached in mini-batches with `contrastive_mini_batch_size`; bfloat16
    mixed precision with `bf16`); process 0 saves the gradients, the logged values and the number of DDP bucket
    reductions to `output_path`."""
    work_dir = Path(work_dir)
    tokenizer = AutoTokenizer.from_pretrained(work_dir / "tokenizer")
    train = datasets.load_from_disk(str(work_dir / "wps"))["train"]
    model = tiny_model(len(tokenizer), mlm_mode=mlm_mode).to(dtype)
    recorder, counter = GradientRecorder(), ReductionCounter()
    args = MLCTLTrainingArguments(
        output_dir=str(work_dir / f"one-step-{batch_size}"), per_device_train_batch_size=batch_size, max_steps=1,
        logging_steps=1, max_grad_norm=0.0, learning_rate=1e-3, report_to="none", save_strategy="no", use_cpu=True,
        seed=7, contrastive_mini_batch_size=contrastive_mini_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps, bf16=bf16)
    trainer = MLCTLTrainer(
        model=model, args=args, train_dataset=train, processing_class=tokenizer, callbacks=[recorder, counter],
        data_collator=MLCTLDataCollator(tokenizer, max_length=64, seed=7), batch_sampler=batch_sampler,
    )
    counter.trainer = trainer
    trainer.train()
    if trainer.is_world_process_zero():
        logged = next(entry for entry in trainer.state.log_history if "loss" in entry)
        torch.save({"gradients": recorder.gradients, "logged": logged, "world_size": args.world_size,
                    "reductions": counter.reductions}, output_path)


def cli_args(work, output_dir, *extra):
    return ["--config_name", str(work["config"]), "--tokenizer_name", str(work["tokenizer"]), "--train_dir",
            str(work["wps"]), "--output_dir", str(output_dir), "--per_device_train_batch_size", "8",
            "--report_to", "none", "--disable_tqdm", "true", "--seed", "3", *extra]


class StopAfter(TrainerCallback):
    """Stops training after `step` optimizer steps, as if the job were killed right after that checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


class HubStandIn:
    """Records what create_repo / upload_folder would send to the Hub (no network)."""

    def __init__(self):
        self.repos, self.uploads = [], []

    def create_repo(self, api, repo_id, **kwargs):
        from huggingface_hub import RepoUrl

        self.repos.append(repo_id)
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, api, *, repo_id, folder_path, allow_patterns=None, ignore_patterns=None,
                      run_as_future=False, **kwargs):
        """Selects the files as `HfApi.upload_folder` does (huggingface_hub's own `filter_repo_objects`)."""
        from huggingface_hub.utils import filter_repo_objects

        paths = [path.relative_to(folder_path).as_posix() for path in Path(folder_path).rglob("*") if path.is_file()]
        files = {relative: (Path(folder_path) / relative).read_bytes() for relative in filter_repo_objects(
            paths, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)}
        self.uploads.append({"repo_id": repo_id, "files": files, "message": kwargs.get("commit_message")})
        if run_as_future:
            future = concurrent.futures.Future()
            future.set_result(None)
            return future
        return None


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command != "one-step":
        sys.exit(f"unknown command {command!r}")
    work_dir, batch_size, output_path, *options = arguments
    settings = dict(option.split("=", 1) for option in options)  # NAME=VALUE keyword arguments of one_step
    for name in ("contrastive_mini_batch_size", "gradient_accumulation_steps"):
        if name in settings:
            settings[name] = int(settings[name])
    if "dtype" in settings:
        settings["dtype"] = getattr(torch, settings["dtype"])
    one_step(work_dir, int(batch_size), output_path, **settings)
    # Leave the gloo group on purpose: a worker that exits with the group alive can abort in c10d's destructor
    # ("terminate called without an active exception"), which failed this test at random.
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
