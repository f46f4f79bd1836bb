"""The contrastive losses on embeddings alone, against float64 references written out by hand."""
import math

import pytest
import torch

from modeling_mlctl.losses import cross_lingual_similarity_logits
from modeling_mlctl.losses import cz_nce_loss
from modeling_mlctl.losses import gather_with_grad
from modeling_mlctl.losses import info_nce_loss
from modeling_mlctl.losses import symmetric_contrastive_loss

TAU = 0.07


def cosine(a, b):
    return sum(p * q for p, q in zip(a, b)) / math.sqrt(sum(p * p for p in a) * sum(q * q for q in b))


def hand_losses(x, y, tau=TAU):
    """Eqs. (1), (2), (5) with plain Python floats: per-anchor losses over both sides, averaged."""
    n = len(x)
    info, cz = [], []
    for anchors, targets in ((x, y), (y, x)):
        for i in range(n):
            positive = cosine(anchors[i], targets[i]) / tau
            negatives = [cosine(anchors[i], targets[k]) / tau for k in range(n) if k != i]
            negatives += [cosine(anchors[i], anchors[k]) / tau for k in range(n) if k != i]
            assert len(negatives) == 2 * n - 2
            denominator = math.exp(positive) + sum(math.exp(s) for s in negatives)
            info.append(-math.log(math.exp(positive) / denominator))
            cz.append(math.log(sum(math.exp(s - positive) for s in negatives)))
    return sum(info) / (2 * n), sum(cz) / (2 * n)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    y = x + 0.5 * torch.randn(4, 6, generator=generator, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("loss", ["info_nce", "cz_nce"])
def test_symmetric_loss_matches_hand_reference(batch, loss):
    x, y = batch
    info_ref, cz_ref = hand_losses(x.tolist(), y.tolist())
    value, x_logits, y_logits = symmetric_contrastive_loss(x, y, temperature=TAU, loss=loss)
    assert value.item() == pytest.approx(info_ref if loss == "info_nce" else cz_ref, rel=1e-12)
    assert x_logits.shape == (4, 8) and y_logits.shape == (4, 8)
    # the anchor itself is masked out; the positive sits at column i
    assert torch.isinf(x_logits[torch.arange(4), 4 + torch.arange(4)]).all()
    assert x_logits[1, 1].item() == pytest.approx(cosine(x[1].tolist(), y[1].tolist()) / TAU, rel=1e-12)


def test_cz_nce_can_be_negative_and_info_nce_cannot():
    x = torch.eye(3, dtype=torch.float64)
    cz, _, _ = symmetric_contrastive_loss(x, x.clone(), loss="cz_nce")
    info, _, _ = symmetric_contrastive_loss(x, x.clone(), loss="info_nce")
    # s⁺ = 1/τ, four negatives at 0: log(4 e^{-1/τ}) = log 4 − 1/τ
    assert cz.item() == pytest.approx(math.log(4) - 1 / TAU, rel=1e-12)
    assert info.item() == pytest.approx(math.log(1 + 4 * math.exp(-1 / TAU)), rel=1e-9)
    assert cz.item() < 0 < info.item()


def test_logit_gradients_match_hand_formulas():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 9, generator=generator, dtype=torch.float64, requires_grad=True)
    positive = torch.tensor([0, 3, 2, 8, 4])
    (info_grad,) = torch.autograd.grad(info_nce_loss(logits, positive), logits)
    (cz_grad,) = torch.autograd.grad(cz_nce_loss(logits, positive), logits)
    one_hot = torch.nn.functional.one_hot(positive, 9).double()
    expected_info = (torch.softmax(logits.detach(), -1) - one_hot) / 5
    negatives = logits.detach().masked_fill(one_hot.bool(), float("-inf"))
    expected_cz = (torch.softmax(negatives, -1) - one_hot) / 5
    torch.testing.assert_close(info_grad, expected_info, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(cz_grad, expected_cz, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", ["info_nce", "cz_nce"])
def test_embedding_gradients_match_finite_differences(batch, loss):
    x, y = (t.clone().requires_grad_(True) for t in batch)
    assert torch.autograd.gradcheck(
        lambda a, b: symmetric_contrastive_loss(a, b, temperature=0.5, loss=loss)[0], (x, y), eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("margin", [0.0, 5.0, 40.0])
def test_stop_gradient_form_equals_stable_form(dtype, margin):
    generator = torch.Generator().manual_seed(2)
    base = torch.randn(6, 12, generator=generator, dtype=dtype)
    positive = torch.arange(6)
    base[torch.arange(6), positive] += margin
    values, grads = [], []
    for form in ("logsumexp", "stop_gradient"):
        logits = base.clone().requires_grad_(True)
        value = cz_nce_loss(logits, positive, form=form)
        (grad,) = torch.autograd.grad(value, logits)
        values.append(value)
        grads.append(grad)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(values[1], values[0], rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grads[1], grads[0], rtol=tolerance, atol=tolerance)
    assert torch.isfinite(values[0]) and torch.isfinite(grads[1]).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("margin", [0.0, 10.0, 25.0, 60.0])
def test_cz_nce_gradient_on_the_positive_is_minus_one_at_any_margin(dtype, margin):
    n, columns = 8, 16
    logits = torch.zeros(n, columns)
    positive = torch.arange(n)
    logits[positive, positive] = margin
    logits = logits.to(dtype).requires_grad_(True)
    (grad,) = torch.autograd.grad(cz_nce_loss(logits, positive) * n, logits)
    assert grad.dtype == dtype
    assert torch.all(grad[positive, positive].float() == -1.0)
    # the negatives share +1 per row
    torch.testing.assert_close(grad.float().sum(-1), torch.zeros(n), atol=1e-2, rtol=0)


def test_info_nce_gradient_on_the_positive_underflows_in_float16():
    n, columns, margin = 8, 16, 20.0
    logits = torch.zeros(n, columns)
    positive = torch.arange(n)
    logits[positive, positive] = margin
    grads = {}
    for dtype in (torch.float64, torch.float16):
        leaf = logits.to(dtype).requires_grad_(True)
        (grads[dtype],) = torch.autograd.grad(info_nce_loss(leaf, positive) * n, leaf)
    exact = -(columns - 1) * math.exp(-margin) / (1 + (columns - 1) * math.exp(-margin))
    assert grads[torch.float64][0, 0].item() == pytest.approx(exact, rel=1e-9)
    assert grads[torch.float16][0, 0].item() == 0.0  # −(1 − p⁺) ≈ −3e-8 is below float16's range


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss", ["info_nce", "cz_nce"])
def test_low_precision_values_match_float64(batch, dtype, loss):
    x, y = batch
    reference, _, _ = symmetric_contrastive_loss(x, y, loss=loss)
    low, _, _ = symmetric_contrastive_loss(x.to(dtype), y.to(dtype), loss=loss)
    assert low.dtype == torch.float32
    # the inputs' rounding (2^-11 resp. 2^-8 relative) is amplified by 1/τ ≈ 14 in the logits
    tolerance = 0.02 if dtype == torch.float16 else 0.15
    assert low.item() == pytest.approx(reference.item(), abs=tolerance)


def test_asymmetric_loss_uses_x_anchors_only(batch):
    x, y = batch
    value, x_logits, y_logits = symmetric_contrastive_loss(x, y, loss="info_nce", symmetric=False)
    expected = info_nce_loss(cross_lingual_similarity_logits(x, y, x, 0, TAU), torch.arange(4))
    assert y_logits is None
    assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(x_logits, cross_lingual_similarity_logits(x, y, x, 0, TAU))


def test_bad_arguments_raise_clear_errors(batch):
    x, y = batch
    with pytest.raises(ValueError, match="choose one of 'cz_nce', 'info_nce'"):
        symmetric_contrastive_loss(x, y, loss="triplet")
    with pytest.raises(ValueError, match="choose one of 'logsumexp', 'stop_gradient'"):
        cz_nce_loss(torch.zeros(2, 4), torch.tensor([0, 1]), form="exp")
    with pytest.raises(ValueError, match="at least 2 parallel pairs"):
        symmetric_contrastive_loss(x[:1], y[:1])


def test_gather_without_process_group_is_identity(batch):
    x, _ = batch
    gathered, offset = gather_with_grad(x)
    assert gathered is x and offset == 0


def coupled_loss(x, y):
    """A loss in which every row's gradient depends on every other row (the contrastive losses gather across
    processes themselves, so they would gather twice here)."""
    return torch.logsumexp(x @ y.T, dim=1).sum()


def loss_on_gathered_rows(rank, init_file, sizes, results):
    """One gloo process of `test_gather_with_uneven_rows_per_process`: its rows of a fixed float64 batch, gathered,
    `coupled_loss` of the whole gathered batch, and the gradient of its own rows."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=len(sizes))
    x, y = torch.randn(2, sum(sizes), 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    start = sum(sizes[:rank])
    local_x = x[start:start + sizes[rank]].clone().requires_grad_(True)
    local_y = y[start:start + sizes[rank]].clone()
    gathered_x, offset = gather_with_grad(local_x)
    gathered_y, _ = gather_with_grad(local_y)
    coupled_loss(gathered_x, gathered_y).backward()
    results.put((rank, offset, gathered_x.detach(), local_x.grad))
    dist.destroy_process_group()


def test_gather_with_uneven_rows_per_process(tmp_path):
    """A global batch of 5 pairs over 2 processes (3 + 2 rows, as a batch that does not split evenly gives): every
    process gets the whole batch in rank order, and each row's gradient is the one-process gradient of the 5-pair
    loss times the process count (all_gather sums the processes' gradients; DDP divides by their number). Before
    padding, gloo aborted ("Received data size doesn't match expected size")."""
    import torch.multiprocessing as mp

    sizes = [3, 2]
    context = mp.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=loss_on_gathered_rows,
                                 args=(rank, tmp_path / "init", sizes, results)) for rank in range(len(sizes))]
    for process in processes:
        process.start()
    outcome = sorted((results.get(timeout=120) for _ in processes), key=lambda entry: entry[0])
    for process in processes:
        process.join(60)
    x, y = torch.randn(2, sum(sizes), 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    coupled_loss(x, y).backward()
    assert [offset for _, offset, _, _ in outcome] == [0, 3]
    for _, _, gathered, _ in outcome:
        assert torch.equal(gathered, x.detach())
    local_grads = torch.cat([grad for _, _, _, grad in outcome])
    torch.testing.assert_close(local_grads, len(sizes) * x.grad, rtol=1e-12, atol=1e-12)


# ----- the explicit sentence term -----


def loop_reference_loss(x, y, temperature, loss):
    """Eq. (2) / eq. (7) written out anchor by anchor in float64: each anchor's positive against the 2n − 2
    negatives of both languages, averaged over the 2n anchors."""
    def s(a, b):
        return (a @ b) / (a.norm() * b.norm()) / temperature

    n, total = x.shape[0], 0.0
    for anchors, others in ((x, y), (y, x)):
        for i in range(n):
            positive = s(anchors[i], others[i])
            negatives = [s(anchors[i], others[j]) for j in range(n) if j != i]
            negatives += [s(anchors[i], anchors[j]) for j in range(n) if j != i]
            if loss == "cz_nce":
                total = total + torch.log(sum(torch.exp(v - positive) for v in negatives))
            else:
                total = total - positive + torch.log(torch.exp(positive) + sum(torch.exp(v) for v in negatives))
    return total / (2 * n)


@pytest.mark.parametrize("loss", ["cz_nce", "info_nce"])
def test_sentence_term_value_and_gradient_match_a_float64_reference(loss):
    from modeling_mlctl.losses import with_sentence_term

    generator = torch.Generator().manual_seed(11)
    x64 = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    y64 = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    x, y = x64.float().requires_grad_(), y64.float().requires_grad_()
    cce = torch.tensor(0.75, requires_grad=True)
    total, sentence = with_sentence_term(cce, x, y, 0.3, temperature=0.5, loss=loss)
    x64.requires_grad_(), y64.requires_grad_()
    reference = loop_reference_loss(x64, y64, 0.5, loss)
    reference.backward()
    assert sentence.item() == pytest.approx(reference.item(), rel=1e-5)
    assert total.item() == pytest.approx(0.75 + 0.3 * reference.item(), rel=1e-5)
    total.backward()
    assert cce.grad.item() == 1.0
    torch.testing.assert_close(x.grad.double(), 0.3 * x64.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(y.grad.double(), 0.3 * y64.grad, rtol=1e-4, atol=1e-6)
