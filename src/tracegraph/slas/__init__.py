"""SLA evaluation: pure rules (``rules``), the evaluator service and webhook delivery."""
