"""Executors: where tasks run, behind one small interface (``base.Executor``).

``inline`` (the engine's process) and ``process`` (forked workers) are
built in; integrations register more through ``register_executor`` or the
``cadencia.executors`` entry point group.
"""
