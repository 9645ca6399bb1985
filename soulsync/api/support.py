"""The support block: where a person can get help, in every reply that reports suicidal
thoughts or screens as Depression; the part of a reply that may matter most.

Its texts are soulsync/texts.py's defaults, or a deployment's own settings (soulsync/config.py,
which refuses an English text of one's own without its Indonesian twin; soulsync/contacts.py
reads the contacts a setting gives). Here it is assembled in each language, dumped once when
the app is built, documented, and put into the replies that are due one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, missing

from soulsync import texts
from soulsync.api import language
from soulsync.config import support_keys
from soulsync.contacts import PHONE
from soulsync.translations import LANGUAGES, SOURCE_LANGUAGE, catalog


class ContactSchema(Schema):
    name = fields.String(
        required=True,
        metadata={
            "description": "Who to contact, in the reply's language; an extension to press is "
            "said here (call 119, then press 8). Show it with the number."
        },
    )
    phone = fields.String(
        required=True,
        metadata={
            "description": "The number to dial, as a tel: link takes it: digits only (a "
            "leading + for an international number).",
            "pattern": PHONE.pattern,
            "example": "119",
        },
    )
    url = fields.Url(
        metadata={
            "description": "The contact's website or chat, for a link (https); only where "
            "the contact has one.",
            "example": "https://healing119.id",
        },
    )


class SupportSchema(Schema):
    message = fields.String(required=True)
    contacts = fields.List(
        fields.Nested(ContactSchema),
        required=True,
        metadata={
            "description": "Where to get help, most widely reachable first: the service's "
            "settings (SOULSYNC_SUPPORT_CONTACTS). The default contacts (119, 112, the Ministry "
            f"of Health's mental-health line) were last checked {texts.SUPPORT_CONTACTS_CHECKED}."
        },
    )
    notice = fields.String(required=True, metadata={"example": texts.NOTICE})


class SupportWhenDue(fields.Nested):
    """The support block in the reply's language (dumped once per language when the app is
    built, `blocks`) where the screening says support is due; no key at all otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SupportSchema, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return language.current().support if value else missing


def blocks(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The support block in each language, as replies carry it: each language's own settings
    where set, else the English ones as the catalog says them."""
    schema = SupportSchema()
    base_message, base_contacts = support_keys(SOURCE_LANGUAGE)
    found = {}
    for language_code in LANGUAGES:
        translate = catalog(language_code).gettext
        message_key, contacts_key = support_keys(language_code)
        contacts = config[contacts_key] or [
            {**contact, "name": translate(contact["name"])} for contact in config[base_contacts]
        ]
        block = {
            "message": config[message_key] or translate(config[base_message]),
            "contacts": contacts,
            "notice": translate(texts.NOTICE),
        }
        found[language_code] = schema.dump(block)
    return found
