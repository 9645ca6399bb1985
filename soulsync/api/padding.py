"""One length for every successful screening reply.

TLS hides a reply's bytes, not its length: a reply with a support block, another risk level or
other factors would be longer than one without, and tell whoever watches the encrypted stream a
person's result or suicidal-thoughts answer. So each is padded, with spaces after the JSON
(which every JSON parser ignores), to the longest a reply of its kind can be, measured when the
app is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g
from marshmallow import Schema

from soulsync.api import language
from soulsync.api.replies import (
    DECIMALS,
    BatchResponseSchema,
    FactorSchema,
    PredictionSchema,
    factor_replies,
)
from soulsync.inference.decision import RiskLevel
from soulsync.inference.predictor import Factor
from soulsync.inference.screening import Screener, Screening
from soulsync.questionnaire import QUESTIONS

#: Where a view leaves the length its reply is padded to (flask.g, for `pad_reply`).
_PADDED_TO = "soulsync_padded_to"
#: The longest a probability, a threshold or an effect is written: a sign, a zero and every
#: decimal.
_LONGEST_NUMBER = -round(1 / 9, DECIMALS)


@dataclass(frozen=True)
class ReplySize:
    """The lengths screening replies are padded to."""

    #: The longest a reply to one questionnaire can be, in any language.
    screening: int
    #: A batch reply's bytes besides its results and its count's digits.
    batch_envelope: int

    def batch(self, count: int) -> int:
        return self.batch_envelope + len(str(count)) + count * (self.screening + 1)


def measure(app: Flask, speeches: Iterable[language.Speech], screener: Screener) -> ReplySize:
    """The longest replies can be: the longest of each of their parts dumped in every language,
    each risk level and the support block, written by the app's own JSON provider (whatever
    its separators and escapes)."""

    def written(schema: Schema, value: Any) -> int:
        return len(app.json.response(schema.dump(value)).get_data())

    factor, prediction, batch = FactorSchema(), PredictionSchema(), BatchResponseSchema()
    screening = envelope = 0
    for speech in speeches:
        with language.speaking_as(speech):
            # A factor's length is its answer's part plus its reference's, each the same
            # function of a code: the longest pairs the longest answer with itself.
            each_question = [
                max(
                    written(factor, reply)
                    for reply in factor_replies(
                        [
                            Factor(question.key, code, code, _LONGEST_NUMBER)
                            for code in question.codes
                        ],
                        speech,
                    )
                )
                for question in QUESTIONS
            ]
            factors = sorted(each_question, reverse=True)[: screener.predictor.top_factors]
            for level in RiskLevel:
                bare = Screening(
                    probability=_LONGEST_NUMBER,
                    group="",
                    threshold=_LONGEST_NUMBER,
                    model_version=screener.version,
                    risk_level=level,
                    factors=(),
                    support_due=True,
                )
                # A comma between factors: one per factor is a bound.
                longest = written(prediction, bare) + sum(factors) + len(factors)
                screening = max(screening, longest)
            empty = {"model_version": screener.version, "results": []}
            envelope = max(envelope, written(batch, empty) - len("0"))
    return ReplySize(screening=screening, batch_envelope=envelope)


def padded_to(length: int) -> None:
    """Have this request's successful reply padded to `length` bytes."""
    setattr(g, _PADDED_TO, length)


def pad_reply(response: Response) -> Response:
    """Pad a successful reply to the length its view named (`padded_to`): an after_request
    hook of the screening blueprint."""
    length = g.get(_PADDED_TO)
    if length is not None and response.status_code == HTTPStatus.OK:
        body = response.get_data()
        if len(body) < length:
            response.set_data(body + b" " * (length - len(body)))
    return response
