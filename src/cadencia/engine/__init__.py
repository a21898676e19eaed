"""Engine: runs a graph — scheduling, executors, task execution, resume, plan.

Knows nothing of ML. May import: the standard library, ``cadencia.errors``,
``cadencia.authoring`` and ``cadencia.store``; never ``cadencia.ml``,
serving, UI, the CLI or integrations (tests/test_layering.py checks it).
"""
