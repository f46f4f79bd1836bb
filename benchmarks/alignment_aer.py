"""Word-alignment quality of `mlctl-align` against eflomal, on two small corpora.

    python -m mlctl.demo --output_dir /tmp/demo           # the demo model (about 40 s)
    python benchmarks/alignment_aer.py --model /tmp/demo/model --output_dir /tmp/aer

1. **Synthetic corpus with gold** (`mlctl.experiments.synthetic.synthetic_corpus`, 300 pairs): "The ADJ NOUN VERB near
   the NOUN ." / "Die ADJ NOUN VERB neben dem NOUN ." — word for word in the same order, so the gold alignment is
   the diagonal, every link sure. AER, precision and recall of `mlctl-align` (each method) and of eflomal
   (trained on these 300 pairs; intersection and grow-diag-final-and).
2. **Shipped en-de sample** (`data_prep/sample`, the demo's 50 held-out lines): no gold exists for it, so the
   table gives agreement with eflomal (trained on all 300 sample lines, grow-diag-final-and): eflomal's links as
   the reference, all sure.

Words are the whitespace tokens of each line for every aligner.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import data_prep
from data_prep.word_pairs import parse_pharaoh, symmetrize
from mlctl.alignment import ALIGNMENT_METHODS, align_pairs, alignment_error_rate
from mlctl.experiments.eflomal_links import eflomal_links
from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.synthetic import synthetic_corpus

HELD_OUT = 50
SAMPLE_DIR = Path(data_prep.__file__).resolve().parent / "sample"


def symmetrized_eflomal_links(pairs, symmetrization: str):
    """eflomal (the aligner data_prep uses) on whitespace tokens, both directions symmetrized."""
    forward, reverse = eflomal_links((" ".join(src) for src, _ in pairs), (" ".join(tgt) for _, tgt in pairs))
    return [symmetrize(parse_pharaoh(f, len(s), len(t), "eflomal fwd"), parse_pharaoh(r, len(s), len(t), "eflomal rev"),
                       symmetrization) for f, r, (s, t) in zip(forward, reverse, pairs)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="an encoder checkpoint (the demo's: OUTPUT_DIR/model)")
    parser.add_argument("--layer", type=int, default=None, help="hidden_states index (default as mlctl-align)")
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)
    from mlctl.encoding import load_encoder, resolve_layer

    record = RunRecord()
    model, tokenizer = load_encoder(args.model, "cpu")
    layer = resolve_layer(model.config.num_hidden_layers + 1, args.layer)
    en, de = synthetic_corpus(300, seed=0)
    synthetic = [(s.split(), t.split()) for s, t in zip(en, de)]
    gold = [({(i, i) for i in range(len(s))},) * 2 for s, _ in synthetic]
    sample = [(s.split(), t.split()) for s, t in zip(*((SAMPLE_DIR / f"en-de.{lang}").read_text(
        encoding="utf-8").splitlines() for lang in ("en", "de")))]
    reference = [(links, links) for links in symmetrized_eflomal_links(sample, "grow-diag-final-and")[-HELD_OUT:]]
    rows = []
    for method in ALIGNMENT_METHODS:
        links, _ = align_pairs(model, tokenizer, synthetic, layer=layer, method=method)
        held_out, _ = align_pairs(model, tokenizer, sample[-HELD_OUT:], layer=layer, method=method)
        rows.append((f"mlctl-align --method {method} (layer {layer})", alignment_error_rate(links, gold),
                     alignment_error_rate(held_out, reference)))
    for symmetrization in ("intersection", "grow-diag-final-and"):
        links = symmetrized_eflomal_links(synthetic, symmetrization)
        rows.append((f"eflomal, {symmetrization}", alignment_error_rate(links, gold), None))
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    print(f"model {args.model}; synthetic corpus: {len(synthetic)} pairs with diagonal gold; sample: en-de held-out "
          f"{HELD_OUT} lines against eflomal (grow-diag-final-and, trained on {len(sample)} lines)")
    print("| aligner | synthetic AER | precision | recall | sample: AER vs eflomal | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name, scores, agreement in rows:
        versus = " - | - | - " if agreement is None else (
            f" {100 * agreement['aer']:.1f} | {100 * agreement['precision']:.1f} | {100 * agreement['recall']:.1f} ")
        print(f"| {name} | {100 * scores['aer']:.1f} | {100 * scores['precision']:.1f} | "
              f"{100 * scores['recall']:.1f} |{versus}|")
    print("\n".join(record.header()))
    (output / "alignment_aer.json").write_text(json.dumps({"run": record.as_dict(), "aligners": [
        {"aligner": name, "synthetic": scores, "sample_vs_eflomal": agreement} for name, scores, agreement in rows]},
        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
