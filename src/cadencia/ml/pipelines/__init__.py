"""Reference pipelines shipped with cadencia (run them with ``cadencia run``)."""
