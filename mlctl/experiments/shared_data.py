"""What every run of an experiment shares, built once and cached in the work dir: the Multi30k corpus subset, a
cased WordPiece tokenizer trained on it, the encoder config, the word positioned samples (WPS, eflomal alignments,
a share of the sentence pairs held out as ``validation``), the Multi30k test set in Tatoeba layout and the POS
train/dev split."""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from data_prep.reading import read_text_lines
from mlctl.experiments.settings import (MULTI30K_TARGETS, POS_TRAIN_SHARE, ExperimentError, Settings,
                                        shared_data_settings)
from mlctl.files import write_json_atomic

#: The shared folders and files in the work dir, by name.
SHARED_PATHS = ("corpus", "tokenizer", "encoder_config", "wps", "multi30k_test", "pos")


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """The first `limit` (default all) lines of a text file, plain or gzip, without line ends."""
    return [line for _, line in itertools.islice(read_text_lines(path), limit)]


def split_conllu(source: Path, train_path: Path, dev_path: Path, train_share: float) -> tuple[int, int]:
    """Writes the first `train_share` of the sentences of a CoNLL-U file to `train_path`, the rest to `dev_path`;
    returns the two sentence counts."""
    if not source.is_file():
        raise ExperimentError(f"{source}: not found (the shared UD data is needed)")
    blocks = [block for block in source.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    cut = int(len(blocks) * train_share)
    train_path.write_text("\n\n".join(blocks[:cut]) + "\n\n", encoding="utf-8")
    dev_path.write_text("\n\n".join(blocks[cut:]) + "\n\n", encoding="utf-8")
    return cut, len(blocks) - cut


def write_multi30k_test(multi30k: Path, tatoeba_dir: Path) -> int:
    """Multi30k test_2016_flickr of each target language and English in Tatoeba layout in `tatoeba_dir`; returns the
    number of pairs per language."""
    from mlctl.evaluation.readers import write_tatoeba_pairs

    english = read_lines(multi30k / "test_2016_flickr.en.gz")
    for lang in MULTI30K_TARGETS:
        target = read_lines(multi30k / f"test_2016_flickr.{lang}.gz")
        if len(target) != len(english):
            raise ExperimentError(f"{multi30k}/test_2016_flickr.{lang}.gz: {len(target)} lines but English has "
                                  f"{len(english)}")
        write_tatoeba_pairs(tatoeba_dir, lang, target, english)
    return len(english)


def prepare_shared(data_dir: Path, work_dir: Path, settings: Settings, start: dict | None = None) -> dict:
    """Builds (once; cached in `work_dir`) what every run shares: with `start` (the checkpoint every arm continues,
    as `mlctl.experiments.continued.export_start` reports it) that checkpoint's tokenizer and encoder config instead
    of a WordPiece tokenizer trained here and the settings' encoder.
    Returns {name: path} of `SHARED_PATHS` and the data report (counts, seconds, the shared-data settings)."""
    from transformers import AutoConfig

    from data_prep import InputError, PairSpec, build_wps_dataset
    from data_prep.tokenizer import load_auto_fast_tokenizer, train_wordpiece_tokenizer

    multi30k = data_dir / "multi30k"
    paths = {name: work_dir / name for name in SHARED_PATHS}
    done = work_dir / "shared_ready.json"
    expected = shared_data_settings(settings)
    if start is not None:
        expected.update(start_from=start["start_from"], model_revision=start["model_revision"])
    if done.is_file():
        summary = json.loads(done.read_text(encoding="utf-8"))
        if summary["settings"] != expected:
            raise ExperimentError(f"{done}: built with other settings than this mode's; remove {work_dir} to rebuild")
        return {**{name: str(path) for name, path in paths.items()}, **summary}
    started = time.perf_counter()
    paths["corpus"].mkdir(parents=True, exist_ok=True)
    texts = {lang: read_lines(multi30k / f"train.{lang}.gz", settings.pairs_per_language)
             for lang in ("en",) + MULTI30K_TARGETS}
    for lang, lines in texts.items():
        (paths["corpus"] / f"train.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if start is not None:
        tokenizer = load_auto_fast_tokenizer(start["model_dir"], "data_prep (the marked words' token spans)")
        AutoConfig.from_pretrained(start["model_dir"]).save_pretrained(paths["encoder_config"])
    else:
        tokenizer = train_wordpiece_tokenizer((line for lines in texts.values() for line in lines),
                                              settings.vocab_size, model_max_length=2 * settings.max_length)
        AutoConfig.for_model(
            model_type="bert", vocab_size=len(tokenizer), hidden_size=settings.hidden_size,
            num_hidden_layers=settings.num_layers, num_attention_heads=settings.num_heads,
            intermediate_size=settings.intermediate_size, max_position_embeddings=2 * settings.max_length,
            pad_token_id=tokenizer.pad_token_id,
        ).save_pretrained(paths["encoder_config"])
    tokenizer.save_pretrained(paths["tokenizer"])
    specs = [PairSpec("en", lang, str(paths["corpus"] / "train.en"), str(paths["corpus"] / f"train.{lang}"))
             for lang in MULTI30K_TARGETS]
    try:
        build_wps_dataset(specs, paths["wps"], tokenizer=tokenizer, max_length=settings.max_length,
                          validation_fraction=settings.validation_fraction, seed=0, num_proc=2)
    except InputError as error:
        raise ExperimentError(f"data_prep: {error}") from None
    test_pairs = write_multi30k_test(multi30k, paths["multi30k_test"] / "tatoeba")
    paths["pos"].mkdir(parents=True, exist_ok=True)
    pos_train, pos_dev = split_conllu(data_dir / "udpos" / "en_ewt-ud-dev.conllu", paths["pos"] / "en-train.conllu",
                                      paths["pos"] / "en-dev.conllu", POS_TRAIN_SHARE)
    report = json.loads((paths["wps"] / "data_prep_report.json").read_text(encoding="utf-8"))
    summary = {
        "wps_train": report["totals"]["wps_per_split"]["train"],
        "wps_validation": report["totals"]["wps_per_split"]["validation"],
        "sentence_pairs": report["totals"]["pairs_read"],
        "vocab_size": len(tokenizer),
        "pos_sentences": {"train": pos_train, "dev": pos_dev},
        "multi30k_test_pairs": test_pairs,
        "seconds": round(time.perf_counter() - started, 1),
        "settings": expected,
    }
    write_json_atomic(done, summary)  # the cache marker: whole or absent
    return {**{name: str(path) for name, path in paths.items()}, **summary}


def shared_report(shared: dict) -> dict:
    """The numbers of a `prepare_shared` result for a results file (paths and settings left out)."""
    return {name: value for name, value in shared.items() if not isinstance(value, str) and name != "settings"}
