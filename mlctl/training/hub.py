"""What a saved ML-CTL model publishes, and the Hub pushes of training, through public transformers and
huggingface_hub API only: the training arguments as JSON beside each saved model, and [`PublishedFilesPush`], the
callback that uploads the allow-listed files of each checkpoint (`hub_strategy="every_save"`) and of the final
model."""
from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path

from huggingface_hub import HfApi
from transformers import TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.trainer_utils import HubStrategy

#: The files of a saved model that are published (each Hub push, given to `upload_folder` as its allow-list): weights
#: as safetensors, JSON (config, tokenizer, training arguments, metrics), the ML-CTL code, text and markdown (model
#: card, vocabulary), SentencePiece tokenizer models. Anything else in `output_dir` (a pickle, a log) stays local.
PUBLISHED_PATTERNS = ("*.safetensors", "*.json", "*.py", "*.md", "*.txt", "*.model")
#: Never uploaded from `output_dir`: the checkpoints (their optimizer, scheduler and RNG states are pickles) and
#: private files.
UNPUBLISHED_PATTERNS = (f"{PREFIX_CHECKPOINT_DIR}-*", "_*")
#: The training arguments of a saved model, as JSON (`TrainingArguments.to_json_string`, tokens masked) in place of
#: the Trainer's pickled training_args.bin.
TRAINING_ARGS_JSON = "training_args.json"


def is_published(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in PUBLISHED_PATTERNS)


def write_training_arguments(args, output_dir: str | Path, push_to_hub: bool) -> None:
    """Writes `args` to `output_dir/training_args.json` and removes the pickled training_args.bin that the Trainer's
    save put there (resuming never reads it). `push_to_hub` is recorded as the run was asked (the Trainer's own copy
    of the arguments has it off: [`PublishedFilesPush`] pushes instead)."""
    recorded = {**json.loads(args.to_json_string()), "push_to_hub": push_to_hub}
    (Path(output_dir) / TRAINING_ARGS_JSON).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n",
                                                       encoding="utf-8")
    (Path(output_dir) / TRAINING_ARGS_NAME).unlink(missing_ok=True)


class PublishedFilesPush(TrainerCallback):
    """Uploads the published files (`PUBLISHED_PATTERNS`) of `output_dir` to the Hub repository `repo_id`: at each
    save with `hub_strategy="every_save"` (the new checkpoint's published files, trainer state excepted, copied to
    `output_dir` first, in the background; skipped while the previous push runs unless `hub_always_push`), and when
    [`upload`] is called (the end of training)."""

    def __init__(self, args, repo_id: str):
        self.repo_id = repo_id
        self.token = args.hub_token
        self.revision = args.hub_revision
        self.every_save = args.hub_strategy == HubStrategy.EVERY_SAVE
        self.always_push = args.hub_always_push
        self.jobs = []

    def upload(self, folder: str | Path, commit_message: str, blocking: bool = True, token: str | None = None,
               revision: str | None = None):
        """Uploads the published files of `folder` (a `Future` when not `blocking`); a blocking upload waits for
        the pushes still running first."""
        if blocking:
            self.wait()
        job = HfApi().upload_folder(
            repo_id=self.repo_id, folder_path=str(folder), commit_message=commit_message,
            token=token if token is not None else self.token,
            revision=revision if revision is not None else self.revision, run_as_future=not blocking,
            allow_patterns=list(PUBLISHED_PATTERNS), ignore_patterns=list(UNPUBLISHED_PATTERNS),
        )
        if not blocking:
            self.jobs.append(job)
        return job

    def wait(self) -> None:
        """Waits for the background pushes (an upload error is raised here)."""
        while self.jobs:
            self.jobs.pop(0).result()

    def on_save(self, args, state, control, **kwargs):
        if not (self.every_save and state.is_world_process_zero):
            return
        if not self.always_push and any(not job.done() for job in self.jobs):
            return
        output_dir = Path(args.output_dir)
        for path in (output_dir / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}").iterdir():
            if path.is_file() and is_published(path.name) and path.name != TRAINER_STATE_NAME:
                shutil.copy(path, output_dir / path.name)
        self.upload(output_dir, f"Training in progress, step {state.global_step}", blocking=False)
