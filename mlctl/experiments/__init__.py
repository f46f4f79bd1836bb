"""The experiments behind `benchmarks/`: provenance of results files, the ablation's settings, arms, runner and report.
The scripts in `benchmarks/` are entry points over this package."""
