"""benchmarks/device_check.py: the whole check at tiny sizes on the CPU (what the GPU run does, in seconds), its
one-line refusals, and the arithmetic its rows rest on (recall of exact's neighbours, the 25M-pair estimates)."""
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch

from mlctl.experiments import device_check
from mlctl.experiments.provenance import REPO_ROOT

SCRIPT = str(REPO_ROOT / "benchmarks" / "device_check.py")


def run_script(*arguments):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, SCRIPT, *arguments], env=env, capture_output=True, text=True, cwd=REPO_ROOT)


def table(text, title):
    """The table rows (those starting with a number: headers and rules left out) of the section whose title starts
    with `title`."""
    section = text.split(f"## {title}")[1].split("\n## ")[0]
    return [line for line in section.splitlines() if line[:3].startswith("| ") and line[2:3].isdigit()]


def test_cpu_tiny_runs_every_part_and_says_the_gpu_rows_are_missing(tmp_path):
    completed = run_script("--cpu", "--tiny", "--output", str(tmp_path / "check.md"))
    assert completed.returncode == 0, completed.stderr
    text = (tmp_path / "check.md").read_text()
    assert f"- Command: `python benchmarks/device_check.py --cpu --tiny --output {tmp_path / 'check.md'}`" in text
    assert "**No GPU in this run: every device number below is a CPU number" in text
    steps = table(text, "(a)")
    assert [row.split(" | ")[:2] for row in steps] == [[f"| {p} × 16", v] for p in (4, 8) for v in
                                                        device_check.STEP_VARIANTS]
    assert all(row.split(" | ")[3] == "1.00" for row in steps if "mlm floor" in row)
    cached = table(text, "(b)")
    assert [row.split(" | ")[0] for row in cached] == ["| 8 × 16", "| 16 × 16"]
    assert all(float(row.split(" | ")[3]) > 0 for row in cached)
    (search,) = table(text, "(c)")
    assert search.startswith("| 2,000 × 32 |") and float(search.split(" | ")[3].rstrip(" %|")) >= 90.0
    prep = table(text, "(d)")
    assert [row.split(" | ")[:2] for row in prep[:2]] == [["| 1", "300"], ["| 2", "300"]]
    assert prep[0].split(" | ")[4] == "1.00"  # efficiency of one process against itself
    assert [row.split(" | ")[0] for row in prep[2:]] == ["| 1 × 2", "| 1 × 16", "| 3 × 16"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_refusals_are_one_line_errors(tmp_path, capsys):
    main = runpy.run_path(SCRIPT)["main"]  # in this process: four fresh interpreters would take most of a minute
    for arguments, message in (
            ((), "device_check: error: no CUDA device (pass --cpu to run on the CPU)\n"),
            (("--cpu",), "device_check: error: pass --output with --cpu (results/gpu.md holds GPU rows only)\n"),
            (("--cpu", "--parts", "ax", "--output", "x"), "device_check: error: --parts ax: unknown part(s) x; choose "
                                                           "from abcd\n"),
            (("--cpu", "--multi30k", str(tmp_path), "--output", "x"),
             f"device_check: error: {tmp_path}: train.{{en,de,fr,cs}}.gz not found\n")):
        assert main([SCRIPT, *arguments]) == 2
        assert capsys.readouterr().err == message


def test_recall_counts_exacts_neighbours_found_row_by_row():
    exact = np.array([[0, 1], [2, 3]])
    assert device_check.neighbour_recall(exact, np.array([[1, 0], [2, 5]])) == 0.75
    assert device_check.neighbour_recall(exact, exact[:, ::-1]) == 1.0


def test_estimates_multiply_out_the_measured_rates():
    lines = device_check.corpus_estimates({1: 1000.0, 2: 1500.0})  # 2 processes: efficiency 0.75
    rows = [line for line in lines if line[:3].startswith("| ") and line[2:3].isdigit()]
    assert rows[0] == "| 1 × 2 | 4.6 | the measured 2-process rate |"  # 25M / 1,500 per s = 4.63 h
    assert rows[1].startswith("| 1 × 16 | 0.4 | 16 × the 1-process rate")  # 25M / 16,000 = 0.43 h
    assert rows[1].endswith("efficiency 0.75: 0.6 h |")  # 25M / 12,000 = 0.58 h
    assert rows[2].startswith("| 3 × 16 | 0.1 | 48 × the 1-process rate") and rows[2].endswith(": 0.2 h |")


def test_out_of_memory_is_told_from_other_errors():
    assert device_check.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert device_check.is_out_of_memory(RuntimeError("DefaultCPUAllocator: not enough memory: you tried... "
                                                      "out of memory"))
    assert not device_check.is_out_of_memory(RuntimeError("shape mismatch"))
