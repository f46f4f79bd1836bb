"""The paper's floating-point argument for CZ-NCE, measured, and what the losses cost next to the encoder.

Part 1 — gradient accuracy. For n anchors with 2n − 1 candidates each (the positive and the 2n − 2 negatives of
eq. 1), negatives ~ N(0, 1) and the positive placed `margin` logits above the largest negative, the gradient of
each loss with respect to the logits is computed in float16 / bfloat16 / float32 and compared with float64 on the
same (already rounded) logits. Reported: the relative error ‖g − g₆₄‖ / ‖g₆₄‖ of the whole gradient, and of the
gradient on s⁺ alone. InfoNCE's positive gradient is −(1 − p⁺): once p⁺ rounds to 1 it is lost entirely (error 1.0);
CZ-NCE's is −1 at every margin.

Part 2 — time. Forward + backward of the symmetric loss (eq. 2, both anchor sides) on CCE embeddings of width
1536 (mBERT's 2 × 768) at batch 64 … 4096, next to the forward + backward of the encoder that produces the
embeddings: an mBERT-base-shaped BERT (random weights, 12 layers, hidden 768, vocabulary 119,547), both sides,
sequence length 32. The encoder is timed at a batch that fits this machine and scaled linearly in the batch
(its cost is linear in it); the loss is timed at every batch.

    python benchmarks/bench_losses.py            # both parts (~2 min on 2 CPU cores)
    python benchmarks/bench_losses.py --part 1   # accuracy only
    python benchmarks/bench_losses.py --anchors 8 --margins 0 20 --batches 64 --encoder-batch 1 --length 8  # smallest
"""
import argparse

import torch

from mlctl.experiments.measurement import mean_seconds
from mlctl.experiments.transcript import transcript
from modeling_mlctl.losses import cz_nce_loss, info_nce_loss, symmetric_contrastive_loss

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
LOSSES = {"InfoNCE": info_nce_loss, "CZ-NCE": cz_nce_loss}


def logits_with_margin(n: int, margin: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 2n − 1) logits: column 0 is the positive, `margin` above the row's largest negative."""
    negatives = torch.randn(n, 2 * n - 2, generator=generator, dtype=torch.float64)
    positive = negatives.amax(dim=1, keepdim=True) + margin
    return torch.cat([positive, negatives], dim=1), torch.zeros(n, dtype=torch.long)


def exact_gradient(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """Closed-form float64 gradient for column-0 positives, free of the cancellation in 1 − p⁺ (autograd in
    float64 loses the positive's gradient too once the margin passes ~37 logits):
    InfoNCE: s⁺ ← −φ / (1 + φ), s⁻_k ← e^{s⁻_k − s⁺} / (1 + φ); CZ-NCE: s⁺ ← −1, s⁻_k ← e^{s⁻_k − s⁺} / φ;
    with φ = Σ_k e^{s⁻_k − s⁺}, every row divided by n (the mean)."""
    ratios = torch.exp(logits[:, 1:] - logits[:, :1])
    phi = ratios.sum(dim=1, keepdim=True)
    if loss == "InfoNCE":
        grad = torch.cat([-phi / (1 + phi), ratios / (1 + phi)], dim=1)
    else:
        grad = torch.cat([-torch.ones_like(phi), ratios / phi], dim=1)
    return grad / logits.shape[0]


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return ((approx.double() - exact).norm() / exact.norm()).item()


def gradient_accuracy(n: int, margins: list[float]) -> None:
    print(f"Part 1: relative gradient error against float64, n={n} anchors, {2 * n - 2} negatives each;")
    print("margin in logits (cosine / τ: with τ = 0.07 a cosine margin of 0.7 is 10 logits)")
    print("(whole gradient | gradient on s+ alone; 1.0 on s+ means the positive's signal is lost)\n")
    header = f"{'margin':>7} | " + " | ".join(f"{name} {loss:<7}" for name in DTYPES for loss in LOSSES)
    print(header)
    print("-" * len(header))
    generator = torch.Generator().manual_seed(0)
    for margin in margins:
        logits64, positive_index = logits_with_margin(n, margin, generator)
        cells = []
        for dtype in DTYPES.values():
            rounded = logits64.to(dtype)
            for loss, loss_fn in LOSSES.items():
                exact = exact_gradient(loss, rounded.double())
                leaf = rounded.detach().requires_grad_(True)
                (approx,) = torch.autograd.grad(loss_fn(leaf, positive_index), leaf)
                whole = relative_error(approx, exact)
                on_positive = relative_error(approx[:, 0], exact[:, 0])
                cells.append(f"{whole:7.1e}|{on_positive:7.1e}")
        print(f"{margin:7.1f} | " + " | ".join(f"{cell:<15}" for cell in cells))
    print()


def loss_step(n: int, width: int, loss: str, generator: torch.Generator):
    x = torch.randn(n, width, generator=generator).requires_grad_(True)
    y = torch.randn(n, width, generator=generator).requires_grad_(True)

    def step():
        value, _, _ = symmetric_contrastive_loss(x, y, loss=loss)
        value.backward()

    return step


def encoder_seconds_per_pair(batch: int, length: int) -> float:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=119547), add_pooling_layer=False)
    ids = torch.randint(1000, 119547, (2 * batch, length))  # both sides of `batch` pairs

    def step():
        encoder(ids).last_hidden_state.sum().backward()

    return mean_seconds(step, repeats=2) / batch


def timing(batches: list[int], width: int, encoder_batch: int, length: int) -> None:
    print(f"Part 2: forward+backward seconds, CCE width {width}, float32, {torch.get_num_threads()} CPU threads")
    per_pair = encoder_seconds_per_pair(encoder_batch, length)
    print(f"encoder (mBERT-base shape, both sides, length {length}): {per_pair * 1e3:.1f} ms per pair, "
          f"measured at batch {encoder_batch}, scaled linearly\n")
    header = (f"{'batch':>6} | {'InfoNCE s':>10} | {'CZ-NCE s':>10} | {'CZ/Info':>7} | {'encoder s':>10} | "
              f"{'CZ-NCE / encoder':>16}")
    print(header)
    print("-" * len(header))
    generator = torch.Generator().manual_seed(0)
    for n in batches:
        repeats = 20 if n <= 256 else 5 if n <= 1024 else 3
        info_step, cz_step = (loss_step(n, width, loss, generator) for loss in ("info_nce", "cz_nce"))
        # interleaved, so that both losses see the same machine state
        info = cz = 0.0
        for _ in range(2):
            info += mean_seconds(info_step, repeats) / 2
            cz += mean_seconds(cz_step, repeats) / 2
        encoder = per_pair * n
        print(f"{n:>6} | {info:>10.4f} | {cz:>10.4f} | {cz / info:>7.2f} | {encoder:>10.1f} | {cz / encoder:>16.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    parser.add_argument("--anchors", type=int, default=64, help="anchors for the accuracy table")
    parser.add_argument("--margins", type=float, nargs="+", default=[0, 2, 5, 8, 10, 15, 20, 30, 60])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--width", type=int, default=1536, help="CCE width (2 x hidden for mBERT)")
    parser.add_argument("--encoder-batch", type=int, default=4, help="pairs per encoder timing step")
    parser.add_argument("--length", type=int, default=32, help="tokens per sentence for the encoder timing")
    parser.add_argument("--markdown", help="also write the output, with the command, commit and wall time, to this file")
    args = parser.parse_args()
    with transcript(args.markdown, "Loss benchmark"):
        if args.part in ("1", "all"):
            gradient_accuracy(args.anchors, args.margins)
        if args.part in ("2", "all"):
            timing(args.batches, args.width, args.encoder_batch, args.length)


if __name__ == "__main__":
    main()
