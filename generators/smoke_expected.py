"""deploy/smoke-expected.json: how the shipped model must answer the smoke test's
questionnaires (deploy/smoke.py), taken from the service itself, built in-process
(`make smoke-expected`, and `make train`; SOULSYNC_MODEL_PATH names another model).

The questionnaires are chosen from a fixed sample of each group's possible questionnaires
(students, professionals), scored through POST /predict/batch: for each decision boundary (the
group's threshold, and where each higher risk level starts) the nearest questionnaire on each
side that lies at least BOUNDARY_MARGIN from every boundary, and the median questionnaire of
each risk level. A revision whose threshold or bands moved by more than that margin (plus the
gap to the next questionnaire) answers one of them otherwise, and so does one whose
probabilities moved by more than PROBABILITY_TOLERANCE. The margin keeps another CPU's
arithmetic from flipping a result.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask

from soulsync.analysis.rule_choice import answer_space
from soulsync.questionnaire import CONTRACT_EXAMPLE, GROUPS, QUESTIONS

#: How far from every decision boundary a chosen questionnaire's probability lies.
BOUNDARY_MARGIN = 0.005
#: How far a served probability may be from the expected one (the reply rounds to 6 places).
PROBABILITY_TOLERANCE = 1e-4
#: Every SAMPLE_STRIDE-th questionnaire of each group is scored (a prime, so that every question's
#: options mix), which keeps this to seconds while the nearest neighbours stay close.
SAMPLE_STRIDE = 17
#: The old clients' reply fields (docs/integration.md, the old contract); their values are
#: checked exactly.
OLD_FIELDS = ("message", "result")
CHECKED = ("result", "risk_level", "probability")


@dataclass(frozen=True)
class Scored:
    answers: dict[str, int]
    reply: dict[str, Any]

    @property
    def probability(self) -> float:
        return self.reply["probability"]


def questionnaires(group_code: int) -> Iterator[dict[str, int]]:
    """Every SAMPLE_STRIDE-th possible questionnaire of one group, in a fixed order."""
    keys = [question.key for question in QUESTIONS]
    for codes in answer_space(group_code)[::SAMPLE_STRIDE].astype(int).tolist():
        yield dict(zip(keys, codes, strict=True))


def score_all(app: Flask, group_code: int) -> list[Scored]:
    """The group's sample, scored by the service's batch endpoint."""
    client = app.test_client()
    scored: list[Scored] = []
    pending = questionnaires(group_code)
    while batch := list(itertools.islice(pending, app.config["BATCH_LIMIT"])):
        reply = client.post("/predict/batch", json={"questionnaires": batch})
        if reply.status_code != 200:
            raise RuntimeError(f"POST /predict/batch answered {reply.status_code}: {reply.text}")
        results = reply.get_json()["results"]
        scored += [Scored(answers, result) for answers, result in zip(batch, results, strict=True)]
    return scored


def boundaries(card: dict[str, Any], group: str, threshold: float) -> list[float]:
    """Where the group's result and risk levels change: its threshold, and where each higher
    risk level starts when the card says so."""
    rule = card.get("decision", {}).get("groups", {}).get(group, {})
    return sorted({threshold, *rule.get("band_starts", [])})


def choose(scored: list[Scored], edges: list[float]) -> list[tuple[str, Scored]]:
    """(why, questionnaire) pairs: each boundary's nearest neighbours beyond the margin, and
    each risk level's median."""
    clear = [s for s in scored if min(abs(s.probability - e) for e in edges) >= BOUNDARY_MARGIN]
    chosen: list[tuple[str, Scored]] = []
    for edge in edges:
        below = [s for s in clear if s.probability < edge]
        above = [s for s in clear if s.probability > edge]
        if below:
            chosen.append((f"nearest below {edge:.4f}", max(below, key=lambda s: s.probability)))
        if above:
            chosen.append((f"nearest above {edge:.4f}", min(above, key=lambda s: s.probability)))
    for level in dict.fromkeys(s.reply["risk_level"] for s in scored):
        members = sorted((s for s in clear if s.reply["risk_level"] == level), key=_by_probability)
        if members:
            chosen.append((f"median of {level}", members[len(members) // 2]))
    unique: dict[tuple[int, ...], tuple[str, Scored]] = {}
    for why, item in chosen:
        unique.setdefault(tuple(item.answers.values()), (why, item))
    return sorted(unique.values(), key=lambda pair: _by_probability(pair[1]))


def _by_probability(item: Scored) -> tuple[float, tuple[int, ...]]:
    return item.probability, tuple(item.answers.values())


def expected_document(app: Flask) -> dict[str, Any]:
    """What deploy/smoke-expected.json holds for the model `app` serves."""
    client = app.test_client()
    card = client.get("/model").get_json()
    contract_reply = client.post("/predict", json=CONTRACT_EXAMPLE).get_json()
    cases = []
    for code, group in sorted(GROUPS.items()):
        scored = score_all(app, code)
        threshold = scored[0].reply["threshold"]
        for why, item in choose(scored, boundaries(card, group, threshold)):
            cases.append(
                {
                    "why": f"{group}, {why}",
                    "answers": item.answers,
                    **{key: item.reply[key] for key in CHECKED},
                }
            )
    first = QUESTIONS[0]
    return {
        "about": "How this build's shipped model answers deploy/smoke.py's checks.",
        "model_version": card["version"],
        "probability_tolerance": PROBABILITY_TOLERANCE,
        "boundary_margin": BOUNDARY_MARGIN,
        "contract": {
            "request": CONTRACT_EXAMPLE,
            "reply": {key: contract_reply[key] for key in OLD_FIELDS},
        },
        "cases": cases,
        "bad_body": {
            "request": {**CONTRACT_EXAMPLE, first.key: first.max_code + 1},
            "status": 422,
            "field": first.key,
        },
    }
