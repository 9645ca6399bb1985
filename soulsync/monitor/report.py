"""The report of `soulsync monitor`: a page a person can look at (index.html with its PNG
charts) and the JSON summary a schedule can read (summary.json)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from soulsync.analysis.charts import plt, reliability_axes, reliability_curve
from soulsync.analysis.report_page import report_page
from soulsync.inference.drift import score_bins
from soulsync.monitor import Monitoring
from soulsync.questionnaire import BY_KEY, GROUP_COLUMN, GROUP_KEY, GROUPS, KEYS

SUMMARY_FILE = "summary.json"
PAGE_FILE = "index.html"
#: Rows of the figures table by status.
STATUS_STYLE = ".shift {background: #fdd} .watch {background: #ffd} .too_few {color: #888}"


def write_report(monitoring: Monitoring, out_dir: Path) -> list[Path]:
    """Write the page, its charts and the summary into `out_dir`; the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = monitoring.summary()
    written = [out_dir / SUMMARY_FILE]
    written[0].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    groups = monitoring.export.answers[:, GROUP_COLUMN]
    charts = []
    for code, group in GROUPS.items():
        rows = groups == code
        if not rows.any():
            continue
        charts.append(_answers_chart(monitoring, group, rows, out_dir / f"answers-{group}.png"))
        charts.append(_scores_chart(monitoring, group, rows, out_dir / f"scores-{group}.png"))
        if monitoring.export.outcomes is not None:
            charts.append(
                _outcomes_chart(monitoring, group, rows, out_dir / f"outcomes-{group}.png")
            )
    page = out_dir / PAGE_FILE
    page.write_text(_page(summary, charts), encoding="utf-8")
    return [*written, *charts, page]


def _answers_chart(monitoring: Monitoring, group: str, rows: np.ndarray, path: Path) -> Path:
    reference = monitoring.card.drift_reference.groups[group]
    keys = [key for key in KEYS if key != GROUP_KEY]
    figure, axes = plt.subplots(3, 3, figsize=(13, 10), dpi=80)
    for ax, key in zip(axes.ravel(), keys, strict=True):
        question = BY_KEY[key]
        column = monitoring.export.answers[rows, KEYS.index(key)]
        seen = [float((column == code).mean()) for code in question.codes]
        x = np.arange(len(question.codes))
        ax.bar(x - 0.2, reference.answers[key], 0.4, label="reference")
        ax.bar(x + 0.2, seen, 0.4, label="export")
        ax.set_xticks(x, [o.en[:12] for o in question.options], fontsize=7, rotation=30)
        ax.set_title(key, fontsize=10)
    axes.ravel()[0].legend(loc="upper right", fontsize=8)
    figure.suptitle(f"Answer shares, {group}: the export against the reference")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path


def _scores_chart(monitoring: Monitoring, group: str, rows: np.ndarray, path: Path) -> Path:
    reference = monitoring.card.drift_reference
    edges = reference.score_edges
    bins = score_bins(edges, monitoring.probabilities[rows])
    seen = np.bincount(bins, minlength=len(edges) + 1) / rows.sum()
    labels = [f"≤{edge}" for edge in edges] + [f">{edges[-1]}"]
    x = np.arange(len(labels))
    figure, ax = plt.subplots(figsize=(11, 4), dpi=80)
    ax.bar(x - 0.2, reference.groups[group].scores, 0.4, label="reference")
    ax.bar(x + 0.2, seen, 0.4, label="export")
    ax.set_xticks(x, labels, fontsize=7, rotation=30)
    ax.set(ylabel="share", title=f"Scores, {group}: the export against the reference")
    ax.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path


def _outcomes_chart(monitoring: Monitoring, group: str, rows: np.ndarray, path: Path) -> Path:
    labels, probabilities = monitoring.export.outcomes[rows], monitoring.probabilities[rows]
    figure, (roc_axes, calibration_axes) = plt.subplots(1, 2, figsize=(11, 5), dpi=80)
    if 0 < labels.sum() < len(labels):
        fpr, tpr, _ = roc_curve(labels, probabilities)
        roc_axes.plot(fpr, tpr, label=f"AUC {monitoring.outcomes[group]['roc_auc']:.3f}")
        roc_axes.legend(loc="lower right", fontsize=8)
    roc_axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    roc_axes.set(xlabel="false positive rate", ylabel="recall", title=f"ROC, {group}")
    calibration_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    reliability_curve(calibration_axes, labels, probabilities, "export", counts=False)
    reliability_axes(calibration_axes, f"Reliability, {group}")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path


def _page(summary: dict, charts: list[Path]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return html.escape("-" if value is None else str(value))

    rows = [
        "<tr><td>all</td><td>group_mix</td>"
        + "".join(f"<td>{cell(summary['group_mix'][k])}</td>" for k in ("psi", "status"))
        + f"<td>{summary['group_mix']['questionnaires']}</td></tr>"
    ]
    outcome_rows = []
    for group, group_summary in summary["groups"].items():
        for item in group_summary["figures"]:
            rows.append(
                f"<tr class='{item['status']}'><td>{group}</td><td>{cell(item['name'])}</td>"
                f"<td>{cell(item['psi'])}</td><td>{cell(item['status'])}</td>"
                f"<td>{item['questionnaires']}</td></tr>"
            )
        if "outcomes" in group_summary:
            o = group_summary["outcomes"]
            outcome_rows.append(
                f"<tr><td>{group}</td>"
                + "".join(
                    f"<td>{cell(o[k])}</td>"
                    for k in ("rows", "roc_auc", "recall", "specificity", "ece", "flagged")
                )
                + "</tr>"
            )
    outcomes = ""
    if outcome_rows:
        outcomes = (
            "<h2>With outcomes</h2><table><tr><th>group</th><th>rows</th><th>ROC AUC</th>"
            "<th>recall</th><th>specificity</th><th>ECE</th><th>flagged</th></tr>"
            + "".join(outcome_rows)
            + "</table>"
        )
    images = "".join(f"<p><img src='{html.escape(path.name)}' alt=''></p>" for path in charts)
    cut_offs = summary["cut_offs"]
    body = f"""<h1>SoulSync drift report: {cell(summary["status"])}</h1>
<p>Model {cell(summary["model_version"])}; {summary["rows"]} questionnaires from
{cell(", ".join(summary["files"]))}; from {cell(summary["from"])} to {cell(summary["to"])}.
{cell(summary["scope"])}</p>
<p>Each figure is a population stability index (PSI) against the reference saved with the model
at training: <b>ok</b> below {cut_offs["watch_from"]}, <b>watch</b> from
{cut_offs["watch_from"]}, <b>shift</b> from {cut_offs["shift_from"]}; <b>too_few</b> below
{cut_offs["minimum_count"]} questionnaires of a group.</p>
<table><tr><th>group</th><th>figure</th><th>PSI</th><th>status</th><th>questionnaires</th></tr>
{"".join(rows)}</table>
{outcomes}
{images}"""
    return report_page("SoulSync drift report", body, STATUS_STYLE)
