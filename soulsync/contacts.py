"""Support contacts as a setting gives them (SOULSYNC_SUPPORT_CONTACTS and its twins): read,
and checked to be what a person can act on: a name, a phone a tel: link dials, and an optional
https link."""

from __future__ import annotations

import json
import re
from typing import Any

from marshmallow import ValidationError, validate

#: A support contact's phone as a tel: link dials it: digits, a leading + for an international
#: number.
PHONE = re.compile(r"\+?[0-9]{3,15}", re.ASCII)
#: What a phone may be written with in a setting, for the reader's eye; removed when read.
_PHONE_SEPARATORS = re.compile(r"[ .()-]")
CONTACT_SHAPE = (
    'a JSON list of {"name": "...", "phone": "..."} objects, each with an optional '
    '"url": "https://..."'
)
_HTTPS_URL = validate.URL(relative=False, schemes={"https"}, require_tld=True)


def _contact(contact: Any) -> dict[str, str]:
    """One support contact of a setting, checked: a name, a phone a tel: link can dial, and an
    optional https URL. Spaces, dots, brackets and dashes in the phone are dropped."""
    if (
        not isinstance(contact, dict)
        or not {"name", "phone"} <= set(contact) <= {"name", "phone", "url"}
        or not all(isinstance(value, str) for value in contact.values())
        or not contact["name"].strip()
    ):
        raise ValueError(f"expected {CONTACT_SHAPE}")
    phone = _PHONE_SEPARATORS.sub("", contact["phone"])
    if not PHONE.fullmatch(phone):
        raise ValueError(
            f"{contact['phone']!r} is not a number a tel: link can dial: write its digits only, "
            "and say an extension in the name (call 119, then press 8)"
        )
    checked = {"name": contact["name"].strip(), "phone": phone}
    if "url" in contact:
        try:
            _HTTPS_URL(contact["url"])
        except ValidationError as error:
            raise ValueError(f"{contact['url']!r} is not an https URL") from error
        checked["url"] = contact["url"]
    return checked


def read_contacts(text: str) -> list[dict[str, str]]:
    """The contacts of a setting's JSON text, each checked; at least one (a support block with
    none would tell a person in crisis nowhere to turn). Raises ValueError saying what is
    wrong."""
    contacts = json.loads(text)
    if not isinstance(contacts, list) or not contacts:
        raise ValueError(f"expected {CONTACT_SHAPE}, at least one")
    return [_contact(contact) for contact in contacts]
