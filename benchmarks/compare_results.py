"""Are two runs of an experiment the same? Compares every value of two results JSONs (`ablation.json`,
`ablation_continued.json`), runs matched by (regime, arm, seed), times and provenance left out; exits 1 when any
number differs.   python benchmarks/compare_results.py BEFORE.json AFTER.json"""
import argparse
import json
import math
import sys
from pathlib import Path

#: Keys that record how and when a run went, not what it computed.
NOT_RESULTS = ("seconds", "runtime", "per_second", "wall", "command", "commit", "load_at_start", "cores", "cpus",
               "jobs", "model_dir", "resumed_from", "json_name", "png_name")


def leaves(value, path: str = ""):
    """``(path, value)`` of every scalar in a JSON value, runs sorted by (regime, arm, seed)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "runs":
                item = sorted(item, key=lambda run: (run["regime"], run["arm"], run["seed"]))
            if not any(skipped in key for skipped in NOT_RESULTS):
                yield from leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args(argv)
    try:
        before, after = (dict(leaves(json.loads(Path(path).read_text(encoding="utf-8"))))
                         for path in (args.before, args.after))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"compare_results: error: not two results JSONs: {error}", file=sys.stderr)
        return 2
    shared = before.keys() & after.keys()
    numbers = {path for path in shared if all(type(side[path]) in (int, float) for side in (before, after))}
    differing = {path: abs(before[path] - after[path]) for path in numbers
                 if before[path] != after[path] and not (math.isnan(before[path]) and math.isnan(after[path]))}
    print(f"{len(numbers)} numbers compared, {len(differing)} differ, largest absolute difference "
          f"{max(differing.values(), default=0.0)}")
    for path in sorted(differing) + sorted(path for path in shared - numbers if before[path] != after[path]):
        print(f"  {path}: {before[path]!r} vs {after[path]!r}")
    for path in sorted(before.keys() ^ after.keys()):
        print(f"  {path}: only in {'before' if path in before else 'after'}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
