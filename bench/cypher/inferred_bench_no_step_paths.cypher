// bench/inferred_lineage.py: apply_step_paths left out (it returns no changed pipeline).
UNWIND $rows AS row
WITH row WHERE false
RETURN row.pipeline AS pipeline
