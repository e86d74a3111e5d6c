"""Pure domain code: the job and evidence models, the metrics, the formatting rule. No I/O."""
