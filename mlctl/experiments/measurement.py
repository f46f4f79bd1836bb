"""How the benchmarks measure: step times taken side by side (interleaved, so that machine load affects every variant
alike), the memory of this process (CUDA's peak allocated; on CPU /proc/self/status or the tensors autograd saves),
and one measurement per fresh process."""
from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch


def mean_seconds(function: Callable[[], object], repeats: int) -> float:
    """Mean wall time of `repeats` calls of `function`, after one untimed warm-up call."""
    function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def interleaved_medians(steps: dict[str, Callable[[], object]], repeats: int, warmup: int, device: torch.device,
                        clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median time by `clock` of each of `steps`, run round-robin: `warmup` untimed rounds, then `repeats` timed (on
    CUDA, which runs asynchronously, each from and to a synchronisation)."""
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = {name: [] for name in steps}
    for repeat in range(warmup + repeats):
        for name, step in steps.items():
            synchronize()
            started = clock()
            step()
            synchronize()
            if repeat >= warmup:
                times[name].append(clock() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def proc_status_mib(field: str) -> float:
    """A memory field of /proc/self/status in MiB: VmRSS (resident now), VmHWM (peak since the last reset), ..."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def step_peak_mib(step: Callable[[], object], device: torch.device) -> float:
    """Memory one call of `step` adds at its peak, measured after a warm-up call (which allocates, e.g., an optimizer's
    state): on CUDA the peak allocated over the call minus the allocated before it; on CPU the peak resident size over
    the call (VmHWM, reset through /proc/self/clear_refs) minus the resident size before it."""
    step()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    before = proc_status_mib("VmRSS")
    step()
    return proc_status_mib("VmHWM") - before


def saved_for_backward_mib(loss_function: Callable[[], torch.Tensor], model: torch.nn.Module) -> float:
    """MiB of the distinct tensors, `model`'s parameters excluded, that autograd saves for the backward pass of
    `loss_function()`; then runs that backward pass (gradients are left in `model`)."""
    parameters = {parameter.untyped_storage().data_ptr() for parameter in model.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_function()
    loss.backward()
    return sum(saved.values()) / 2**20


def fresh_process_json(arguments: list[str], env: dict | None = None) -> dict:
    """Runs `python ARGUMENTS` in a fresh process (environment `env`, default this one's) and returns the JSON object
    on the last line it prints."""
    completed = subprocess.run([sys.executable, *arguments], env=env, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])
