// bench/inferred_lineage.py: apply_inferred_lineage left out (takes its parameter, writes nothing).
RETURN size($touched.step_runs) AS n
