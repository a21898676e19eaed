"""``cadencia plan``: what a run would do, step by step, and why — without running anything.

The planner walks the graph as the runner would, using the same input
preparation and cache keys (``engine.inputs``). A step's decision is known
when its inputs are: upstream steps that would come from the cache give
their digests, so the cache lookup is exact; downstream of a step that will
run, inputs are unknown until run time, and the plan says so.

A cache miss is explained by comparing the step's key parts with the last
run of the same step in the same pipeline: code changed, which argument
changed (and from what to what), which input changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cadencia.authoring.graph import Graph, Node
from cadencia.engine import inputs
from cadencia.engine.inputs import OutputValue
from cadencia.store import open_artifact_store, open_metadata_store
from cadencia.store.artifacts import ArtifactStore
from cadencia.store.config import Settings
from cadencia.store.materializers import registry
from cadencia.store.metadata import MetadataStore
from cadencia.store.outputs import read_output, still_usable
from cadencia.store.records import WHOLE, OutputRecord, TaskRecord


@dataclass(frozen=True)
class PlannedStep:
    step_name: str
    decision: str  # "run" | "cached" | "skip" | "unknown"
    reason: str
    cache_key: str | None = None
    cached_from: str | None = None
    tasks: int | None = None


@dataclass
class Plan:
    pipeline_name: str
    params: dict[str, Any]
    steps: list[PlannedStep] = field(default_factory=list)

    def decision(self, step_name: str) -> PlannedStep:
        return next(step for step in self.steps if step.step_name == step_name)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.decision] = counts.get(step.decision, 0) + 1
        return ", ".join(f"{n} {decision}" for decision, n in sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline_name,
            "params": self.params,
            "steps": [
                {
                    "step": s.step_name,
                    "decision": s.decision,
                    "reason": s.reason,
                    "cache_key": s.cache_key,
                    "cached_from": s.cached_from,
                    "tasks": s.tasks,
                }
                for s in self.steps
            ],
        }


def make_plan(graph: Graph, settings: Settings, *, use_cache: bool = True) -> Plan:
    from cadencia.authoring import params as params_module

    plan = Plan(graph.pipeline_name, params_module.to_json(graph.params))
    if not settings.metadata_exists():
        for node in graph:
            plan.steps.append(
                PlannedStep(node.name, "run", "no run has been recorded yet in this home")
            )
        return plan
    metadata = open_metadata_store(settings.db_url)
    try:
        _Planner(
            graph, metadata, open_artifact_store(settings.artifacts_url), use_cache, plan
        ).walk()
    finally:
        metadata.close()
    return plan


class _Planner:
    def __init__(
        self,
        graph: Graph,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        use_cache: bool,
        plan: Plan,
    ) -> None:
        self.graph = graph
        self.metadata = metadata
        self.artifacts = artifacts
        self.use_cache = use_cache
        self.plan = plan
        self.available: dict[str, dict[str, OutputValue]] = {}
        self.decisions: dict[str, str] = {}
        self.split = graph.mapped_outputs()
        self.blobs: dict[str, bytes] = {}

    def walk(self) -> None:
        for name in self.graph.topological_order():
            step = self._decide(self.graph.nodes[name])
            self.decisions[name] = step.decision
            self.plan.steps.append(step)

    def _decide(self, node: Node) -> PlannedStep:
        upstream = sorted(node.upstream())
        skipped = [u for u in upstream if self.decisions[u] == "skip"]
        if skipped:
            return PlannedStep(node.name, "skip", f"upstream {', '.join(skipped)} would be skipped")
        unknown = [u for u in upstream if self.decisions[u] != "cached"]
        if unknown:
            return PlannedStep(
                node.name, "run", f"its inputs come from {', '.join(unknown)}, which will run"
            )
        for condition in node.conditions:
            record = self.available[condition.ref.node][condition.ref.output].whole
            assert record is not None
            value = self._load(record)
            if bool(value) != condition.expected:
                return PlannedStep(
                    node.name, "skip", f"condition {condition.ref.node} is {bool(value)}"
                )
        if node.is_fan_out:
            return self._fan_out(node)
        prepared = inputs.prepare(node, self.available)
        key = prepared.cache_key(node)
        if key is None:
            return PlannedStep(
                node.name,
                "run",
                f"argument {', '.join(prepared.unstable)} has no stable value to cache on",
            )
        if not self.use_cache:
            return PlannedStep(node.name, "run", "caching is off for this run (--no-cache)", key)
        if not node.step.options.cache:
            return PlannedStep(
                node.name, "run", "caching is off for this step (@step(cache=False))", key
            )
        hit = self._hit(key)
        if hit is not None:
            source, outputs = hit
            self._remember(node, outputs)
            origin = f"{source.run_id}/{source.task_name}"
            return PlannedStep(
                node.name, "cached", f"same inputs and code as {origin}", key, origin
            )
        return PlannedStep(node.name, "run", self._why_miss(node, prepared.cache_parts(node)), key)

    def _fan_out(self, node: Node) -> PlannedStep:
        param = sorted(node.mapped)[0]
        ref = node.args[param]
        elements = self.available[ref.node][ref.output].elements  # type: ignore[union-attr]
        size = len(elements or [])
        hits, children = 0, {}
        for index in range(size):
            prepared = inputs.prepare(node, self.available, index)
            key = prepared.cache_key(node)
            hit = self._hit(key) if key and self.use_cache and node.step.options.cache else None
            if hit is None:
                continue
            hits += 1
            children[index] = {o.output_name: o for o in hit[1] if o.position == WHOLE}
        if hits == size:
            self.available[node.name] = {
                output: OutputValue(None, [children[i][output] for i in range(size)])
                for output in node.output_names
            }
            return PlannedStep(
                node.name, "cached", f"all {size} tasks are in the cache", tasks=size
            )
        return PlannedStep(
            node.name,
            "run",
            f"{size - hits} of {size} tasks will run, {hits} come from the cache",
            tasks=size,
        )

    def _hit(self, key: str) -> tuple[TaskRecord, list[OutputRecord]] | None:
        hit = self.metadata.find_cached(key)
        if hit is None:
            return None
        blobs = still_usable(hit[1], self.metadata, self.artifacts, registry)
        if blobs is None:
            return None
        self.blobs.update(blobs)
        return hit

    def _remember(self, node: Node, outputs: list[OutputRecord]) -> None:
        self.available[node.name] = inputs.output_values(
            node, outputs, self.split.get(node.name, ())
        )

    def _load(self, record: OutputRecord) -> Any:
        return read_output(record, self.metadata, self.artifacts, registry, self.blobs)

    def _why_miss(self, node: Node, parts: dict[str, Any]) -> str:
        previous = self.metadata.latest_task(self.graph.pipeline_name, node.name)
        if previous is None or previous.cache_parts is None:
            return "no earlier run of this step has these inputs"
        before = previous.cache_parts
        reasons = []
        if before.get("code") != parts["code"]:
            reasons.append("its code changed")
        old_args, new_args = before.get("args", {}), parts["args"]
        for name in sorted(set(old_args) | set(new_args)):
            old, new = old_args.get(name), new_args.get(name)
            if old is None or new is None:
                reasons.append(f"argument {name} was {'added' if old is None else 'removed'}")
            elif old.get("token") != new.get("token"):
                if "value" in new and "value" in old:
                    reasons.append(f"argument {name} changed: {old['value']} -> {new['value']}")
                else:
                    reasons.append(f"input {name} changed")
        if not reasons:
            if previous.state not in ("success", "cached"):
                return f"the last run of this step ({previous.run_id}) ended {previous.state}"
            return f"the cached result of {previous.run_id} is no longer available"
        return "; ".join(reasons) + f" (since run {previous.run_id})"
