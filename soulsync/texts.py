"""Every sentence the service says to the people and programs it answers, defined once.

Replies carry these texts (the notice that a result is not a diagnosis, where to get help, the
welcome), and so do errors (what was wrong and what is allowed). Nothing else in the package
writes a sentence for a client: it names one of these. The questionnaire's own texts (its
questions and option labels) live with it, in soulsync/questionnaire.py.
"""

from __future__ import annotations

from soulsync.questionnaire import Kind, Question

#: Shown with every screening result, and in the docs.
NOTICE = (
    "This is a screening result, not a diagnosis. Only a qualified professional can diagnose "
    "depression; please talk to one if you are worried about how you feel."
)
#: The support block's message, shown with a Depression result or after suicidal thoughts
#: (SOULSYNC_SUPPORT_MESSAGE replaces it).
SUPPORT_MESSAGE = (
    "You do not have to face this alone. If you are thinking about suicide or are in danger, "
    "please contact someone now."
)
#: Where to get help in Indonesia (SOULSYNC_SUPPORT_CONTACTS replaces them).
SUPPORT_CONTACTS = (
    {"name": "Emergency services (Indonesia)", "phone": "112"},
    {"name": "SEJIWA, Indonesia's national mental-health line", "phone": "119 ext. 8"},
)
WELCOME = "Welcome to the SoulSync API"

# --- errors: the `message` of each error reply ----------------------------------------------
NOT_JSON = "Send the body as JSON, with Content-Type: application/json."
UNREADABLE_BODY = "The request body could not be read."
EMPTY_BODY = "The request body is empty: send a JSON object."
INVALID_JSON = "The request body is not valid JSON ({problem})."
REPEATED_KEY = "The JSON body repeats the key {key}."
NOT_JSON_CONSTANT = "The JSON body holds {name}, which is not JSON."
TOO_DEEP = "The JSON body is nested too deeply."
UNREADABLE_VALUE = "The JSON body holds a value that cannot be read."
TOO_LARGE = "The request body is larger than {limit} bytes, the most this endpoint takes."
LENGTH_REQUIRED = (
    "A body sent without Content-Length may be at most {limit} bytes: send this one with its "
    "Content-Length."
)
TOO_MANY_CONTAINERS = (
    "The JSON body holds more objects and arrays than this endpoint takes (at most {limit})."
)
REQUEST_TIMEOUT = "The request took too long to arrive: send it again, in one piece."
INVALID_FIELDS = (
    "Some fields are missing or invalid: each is named under errors, by location (json, query)."
)
KEY_MISSING = "This service needs an API key in the {header} header."
KEY_INVALID = "The API key is not valid."
NOT_FOUND = "The requested URL was not found on the server."
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."

# --- field errors: one per bad field, under `errors` -----------------------------------------
ANSWER_MISSING = "Missing answer: expected {allowed}."
ANSWER_NULL = "May not be null: expected {allowed}."
ANSWER_INVALID = "Invalid value {shown}: expected {allowed}."
ALLOWED_SCALE = "an integer from {low} to {high}"
ALLOWED_OPTIONS = "one of the codes {listed}, or one of those labels"
BATCH_SIZE = "Send between 1 and {limit} questionnaires; got {count}."
MORE_INVALID = "Checking stopped after {count} invalid questionnaires."


def allowed(question: Question) -> str:
    """A one-line, human-readable list of what a question accepts."""
    if question.kind is Kind.SCALE:
        return ALLOWED_SCALE.format(low=question.min_code, high=question.max_code)
    listed = ", ".join(f"{o.code} ({o.en})" for o in question.options)
    return ALLOWED_OPTIONS.format(listed=listed)
