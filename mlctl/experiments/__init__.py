"""The experiments behind `benchmarks/` (the scripts there are entry points over this package): the ablation's
settings and arms (`settings`), the data its runs share (`shared_data`), one run and the parallel runner (`runs`), the
report (`report`), the two ablations (`ablation`, `continued` with its `stage0`), their command line (`cli`) and the
provenance of results files (`provenance`)."""
