"""Every sentence the service says to the people and programs it answers, defined once.

Replies carry these texts (the notice that a result is not a diagnosis, where to get help, the
welcome, the risk level in words), and so do errors (what was wrong and what is allowed).
Nothing else in the package writes a sentence for a client: it names one of these. The
questionnaire's own texts (its questions and option labels) live with it, in
soulsync/questionnaire.py.

Each is a `Message`, in English: the message catalogs (soulsync/translations) hold the other
languages, and the HTTP layer says each one in the language its client asked for. A value
filled in (`{limit}`) keeps its name in every language.
"""

from __future__ import annotations

from soulsync.inference.decision import RiskLevel
from soulsync.question import Kind, Question
from soulsync.translations import Message

#: Shown with every screening result, and in the docs: who can diagnose, and where to start.
NOTICE = Message(
    "This is a screening result, not a diagnosis. Only a health professional, such as a "
    "doctor, a clinical psychologist or a psychiatrist, can diagnose depression. If you are "
    "worried about how you feel, please talk to one of them, for example at your nearest "
    "community health centre (Puskesmas)."
)
#: The support block's message, shown with a Depression result or after suicidal thoughts
#: (SOULSYNC_SUPPORT_MESSAGE replaces it): whom to contact, where to go, who to be with, and
#: that things can get better, as safe-messaging guidance asks.
SUPPORT_MESSAGE = Message(
    "You do not have to face this alone. If you are thinking about suicide or do not feel "
    "safe, contact one of the services listed here now, go to the emergency department (IGD) "
    "of the nearest hospital, or ask someone you trust to stay with you. Help is available, "
    "and with the right support things can get better."
)
#: Where to get help in Indonesia, most widely reachable first (SOULSYNC_SUPPORT_CONTACTS
#: replaces them). `phone` is what a tel: link dials, digits only; an extension is said in
#: the name, in the reader's language, because a client shows the name wherever it shows the
#: number (a field of its own would be lost on every client that does not know it).
SUPPORT_CONTACTS = (
    {"name": Message("Medical emergencies and ambulance (all of Indonesia)"), "phone": "119"},
    {"name": Message("Emergency number 112 (where your area has it)"), "phone": "112"},
    {
        "name": Message(
            "Ministry of Health mental-health line (Healing119): call 119, then press 8, or "
            "visit healing119.id"
        ),
        "phone": "119",
        "url": "https://healing119.id",
    },
)
#: When and how SUPPORT_CONTACTS were last checked; docs/runbook.md ("Support contacts") says
#: who checks them, how and how often, and to update this line after each check.
SUPPORT_CONTACTS_CHECKED = (
    "2026-12-07, against public sources (the Ministry of Health's pages and press reports, "
    "newest December 2025); no test call placed yet"
)
WELCOME = Message("Welcome to the SoulSync API")

# --- errors: the `message` of each error reply ----------------------------------------------
NOT_JSON = Message("Send the body as JSON, with Content-Type: application/json.")
UNREADABLE_BODY = Message("The request body could not be read.")
EMPTY_BODY = Message("The request body is empty: send a JSON object.")
INVALID_JSON = Message("The request body is not valid JSON ({problem}).")
#: INVALID_JSON's {problem}: where the JSON text breaks, or that its bytes are not text.
JSON_BROKEN_AT = Message("it breaks at line {line}, column {column}")
NOT_UTF8 = Message("it is not UTF-8 text")
REPEATED_KEY = Message("The JSON body repeats the key {key}.")
NOT_JSON_CONSTANT = Message("The JSON body holds {name}, which is not JSON.")
TOO_DEEP = Message("The JSON body is nested too deeply.")
UNREADABLE_VALUE = Message("The JSON body holds a value that cannot be read.")
TOO_LARGE = Message("The request body is larger than {limit} bytes, the most this endpoint takes.")
LENGTH_REQUIRED = Message(
    "A body sent without Content-Length may be at most {limit} bytes: send this one with its "
    "Content-Length."
)
TOO_MANY_CONTAINERS = Message(
    "The JSON body holds more objects and arrays than this endpoint takes (at most {limit})."
)
REQUEST_TIMEOUT = Message("The request took too long to arrive: send it again, in one piece.")
INVALID_FIELDS = Message(
    "Some fields are missing or invalid: each is named under errors, by location (json, query)."
)
KEY_MISSING = Message("This service needs an API key in the {header} header.")
KEY_INVALID = Message("The API key is not valid.")
# Worded as werkzeug words them, which the service said before it spoke other languages.
BAD_REQUEST = Message(
    "The browser (or proxy) sent a request that this server could not understand."
)
NOT_FOUND = Message("The requested URL was not found on the server.")
METHOD_NOT_ALLOWED = Message("The method is not allowed for the requested URL.")
INTERNAL_ERROR = Message(
    "The server encountered an internal error and was unable to complete your request. Either "
    "the server is overloaded or there is an error in the application."
)

# --- field errors: one per bad field, under `errors` -----------------------------------------
ANSWER_MISSING = Message("Missing answer: expected {allowed}.")
ANSWER_NULL = Message("May not be null: expected {allowed}.")
ANSWER_INVALID = Message("Invalid value {shown}: expected {allowed}.")
#: ANSWER_INVALID's {shown} for an answer sent as a JSON array or object (never its contents).
SHOWN_ARRAY = Message("of type array")
SHOWN_OBJECT = Message("of type object")
ALLOWED_SCALE = Message("an integer from {low} to {high}")
ALLOWED_OPTIONS = Message("one of the codes {listed}, or one of those labels")
# Worded as marshmallow words them, which the service said before it spoke other languages.
FIELD_MISSING = Message("Missing data for required field.")
FIELD_NULL = Message("Field may not be null.")
NOT_A_LIST = Message("Not a valid list.")
NOT_AN_OBJECT = Message("Invalid input type.")
UNKNOWN_FIELD = Message("Unknown field.")
BATCH_SIZE = Message("Send between 1 and {limit} questionnaires; got {count}.")
MORE_INVALID = Message("Checking stopped after {count} invalid questionnaires.")
# TRANSLATORS: one option in the list of what an answer accepts: its code and its label.
OPTION_SHOWN = Message("{code} ({label})")

#: `risk_level` in words, for people.
RISK_LEVELS = {
    RiskLevel.LOW: Message("Low risk"),
    RiskLevel.MODERATE: Message("Moderate risk"),
    RiskLevel.HIGH: Message("High risk"),
    RiskLevel.VERY_HIGH: Message("Very high risk"),
}


def allowed(question: Question) -> Message:
    """A one-line, human-readable list of what a question accepts."""
    if question.kind is Kind.SCALE:
        return ALLOWED_SCALE.format(low=question.min_code, high=question.max_code)
    listed = tuple(OPTION_SHOWN.format(code=o.code, label=o.en) for o in question.shown_options)
    return ALLOWED_OPTIONS.format(listed=listed)
