"""The recalibrated model folder: the base model's files, the new card, and the report a person
reads (recalibration.html, with each group's reliability diagram before and after), written
whole or not at all (model_folder.staged_folder)."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from soulsync.analysis.charts import plt, reliability_axes, reliability_curve
from soulsync.analysis.report_page import report_page
from soulsync.inference.figures import Decisions, Estimate, ProbabilityFigures
from soulsync.inference.model_folder import staged_folder, write_card
from soulsync.recalibration import Recalibrated, RecalibrationError
from soulsync.recalibration.recalibrated_card import RECALIBRATION_REPORT


def write_folder(recalibrated: Recalibrated, model_path: Path, out_dir: Path) -> list[Path]:
    """The new model folder at `out_dir` (which must not exist, or be empty); the files in it.
    An error on the way leaves nothing behind."""
    base_dir = model_path.parent
    artifacts = recalibrated.base.artifacts
    try:
        with staged_folder(out_dir, replace=False) as staging:
            for name in (artifacts.tflite, artifacts.keras, artifacts.report):
                if (base_dir / name).is_file():
                    shutil.copyfile(base_dir / name, staging / name)
            write_card(recalibrated.card, staging)
            _write_report(recalibrated, staging)
    except FileExistsError as error:
        raise RecalibrationError(str(error)) from error
    return sorted(out_dir.iterdir())


def _diagram(recalibrated: Recalibrated, group: str, path: Path) -> None:
    rows = recalibrated.rows[group]
    figure, axes = plt.subplots(figsize=(5.5, 5), dpi=80)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="calibrated")
    curves = [("before", rows.before, "tab:red")]
    if rows.after is not None:
        curves.append(("after (cross-fitted)", rows.after, "tab:blue"))
    for label, probabilities, color in curves:
        reliability_curve(axes, rows.labels, probabilities, label, color)
    reliability_axes(axes, f"Reliability, {group} (rows per bin)")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def _estimate(value: Estimate | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value.value:.{digits}f} ({value.low:.{digits}f} to {value.high:.{digits}f})"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _column(figures: ProbabilityFigures | None, decisions: Decisions | None) -> list[str]:
    if figures is None or decisions is None:
        return ["-"] * 6
    return [
        _estimate(figures.log_loss),
        _estimate(figures.ece),
        _estimate(figures.calibration_slope, 2),
        _estimate(figures.calibration_intercept, 2),
        _share(decisions.recall),
        _share(decisions.specificity),
    ]


def _write_report(recalibrated: Recalibrated, folder: Path) -> None:
    card, base = recalibrated.card, recalibrated.base
    recalibration = card.recalibration
    assert recalibration is not None
    sections = []
    for group, result in recalibration.groups.items():
        diagram = ""
        if result.rows:
            image = f"reliability-{group}.png"
            _diagram(recalibrated, group, folder / image)
            diagram = (
                f"<p><img src='{image}' alt='reliability diagram of {html.escape(group)}'></p>"
            )
        names = ["log loss", "ECE", "calibration slope", "calibration intercept"]
        names += ["recall", "specificity"]
        before = _column(result.before, result.before_decisions)
        after = _column(result.after, result.after_decisions)
        table = "".join(
            f"<tr><td>{name}</td><td>{html.escape(b)}</td><td>{html.escape(a)}</td></tr>"
            for name, b, a in zip(names, before, after, strict=True)
        )
        old, new = base.decision.groups[group], card.decision.groups[group]
        low, high = new.threshold_interval
        sections.append(
            f"<h2>{html.escape(group)}: {html.escape(result.status)}</h2>"
            f"<p>{html.escape(result.note)}. Map: intercept {result.map.intercept:.3f}, slope "
            f"{result.map.slope:.3f}. Threshold {old.threshold:.4f} before, {new.threshold:.4f} "
            f"after (95 % bootstrap interval {low:.4f} to {high:.4f}).</p>"
            "<table><tr><th>figure (95 % interval)</th><th>before</th>"
            f"<th>after, on rows not used for the fit</th></tr>{table}</table>{diagram}"
        )
    sources = ", ".join(
        f"{html.escape(s.name)} ({s.rows} rows, {s.positives} positive, sha256 {s.sha256[:12]})"
        for s in recalibration.data
    )
    body = f"""<h1>Recalibrated model {card.version}</h1>
<p>Base model {html.escape(recalibration.base_version)}; local data: {sources}.</p>
<p><b>Fit:</b> {html.escape(recalibration.method)}.</p>
<p><b>Held out:</b> {html.escape(recalibration.held_out)}.</p>
<p><b>Minimum:</b> {html.escape(recalibration.minimum)}.</p>
{"".join(sections)}
<p>Serve it with SOULSYNC_MODEL_PATH=&lt;this folder&gt;/{html.escape(card.artifacts.tflite)}
(docs/model.md, "Recalibrating to the app's users").</p>"""
    page = report_page(f"SoulSync recalibration {card.version}", body)
    (folder / RECALIBRATION_REPORT).write_text(page, encoding="utf-8")
