"""Authoring: describe work as steps and pipelines. Pure Python, no I/O.

May import: the standard library, ``cadencia.errors``. Nothing else.
"""

from cadencia.authoring.conditions import unless, when
from cadencia.authoring.graph import Graph, Node
from cadencia.authoring.pipeline import Pipeline, pipeline
from cadencia.authoring.step import Step, step

__all__ = ["Graph", "Node", "Pipeline", "Step", "pipeline", "step", "unless", "when"]
