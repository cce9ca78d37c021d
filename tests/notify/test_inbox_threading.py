"""A DOWN and a BACK UP of one incident thread together in Gmail, Outlook and Thunderbird,
and can still be told apart in each one's message list.

Each client's rule, as its maker documents it, is written out below as a small function and
applied to the messages the e-mail notifier really builds:

- Gmail (Gmail API guide, "Managing threads"): a message joins a thread when its
  ``References``/``In-Reply-To`` name a message of the thread *and* its ``Subject`` matches
  (prefixes such as ``Re:`` aside). The list shows the sender's name, the subject and a
  snippet of the body.
- Outlook / Exchange (MS-OXOMSG, PidTagConversationTopic): a conversation is the messages
  with the same conversation topic, taken from ``Thread-Topic`` when present, else the
  normalised subject. The list shows sender, subject and the first line of the body.
- Thunderbird (default ``mail.strict_threading = true``, ``mail.thread_without_re = false``):
  threads by ``References``/``In-Reply-To`` only; the subject plays no part. The list shows
  subject and correspondent (the sender's name).
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import EmailMessage

from monitord.notify.email import EmailNotifier
from tests.notify.test_notify_email import AGENCY, NOW, config, event, note

PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|antw)\s*:\s*)+", re.IGNORECASE)


def normalised_subject(msg: EmailMessage) -> str:
    return PREFIX.sub("", str(msg["Subject"])).strip()


def refs(msg: EmailMessage) -> set[str]:
    return set(str(msg["References"] or "").split()) | set(str(msg["In-Reply-To"] or "").split())


def gmail_same_thread(a: EmailMessage, b: EmailMessage) -> bool:
    linked = bool(refs(a) & (refs(b) | {str(b["Message-ID"])}))
    return linked and normalised_subject(a) == normalised_subject(b)


def outlook_same_conversation(a: EmailMessage, b: EmailMessage) -> bool:
    def topic(m: EmailMessage) -> str:
        return str(m["Thread-Topic"]) if m["Thread-Topic"] else normalised_subject(m)

    return topic(a) == topic(b)


def thunderbird_same_thread(a: EmailMessage, b: EmailMessage) -> bool:
    return bool(refs(a) & (refs(b) | {str(b["Message-ID"])}))


def sender_name(msg: EmailMessage) -> str:
    (addr,) = msg["From"].addresses
    assert isinstance(addr, Address)
    return addr.display_name


def preview(msg: EmailMessage) -> str:
    text = msg.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    return str(text.get_content()).splitlines()[0]


def messages(thread: str = "acme/acme-www/http#1") -> dict[str, EmailMessage]:
    n = EmailNotifier("email", config(), AGENCY, clock=lambda: NOW)
    kinds = {
        "down": event("site-down", thread=thread),
        "reminder": event("site-reminder", thread=thread, down_for_seconds=4 * 3600),
        "flapping": event("site-flapping", thread=thread, transitions=6, window_seconds=3600),
        "recovered": event("site-recovered", thread=thread, down_for_seconds=720),
    }
    return {k: n.build_message(note(ev), NOW) for k, ev in kinds.items()}


def test_one_incident_is_one_conversation_in_every_client() -> None:
    msgs = list(messages().values())
    for rule in (gmail_same_thread, outlook_same_conversation, thunderbird_same_thread):
        for a in msgs:
            for b in msgs:
                assert rule(a, b), (rule.__name__, a["From"], b["From"])


def test_another_incident_is_another_conversation() -> None:
    first = messages("acme/acme-www/http#1")["down"]
    other = messages("acme/acme-www/http#2")["down"]
    assert not gmail_same_thread(first, other)
    assert not thunderbird_same_thread(first, other)


def test_the_list_tells_down_from_back_up() -> None:
    msgs = messages()
    names = {k: sender_name(m) for k, m in msgs.items()}
    assert names == {
        "down": "Collective monitoring — DOWN",
        "reminder": "Collective monitoring — STILL DOWN",
        "flapping": "Collective monitoring — FLAPPING",
        "recovered": "Collective monitoring — BACK UP",
    }
    previews = {k: preview(m) for k, m in msgs.items()}
    assert previews["down"].startswith("DOWN — HTTP 503")
    assert previews["recovered"].startswith("BACK UP — after 12m")
    assert len(set(previews.values())) == 4
    # The address, which people's filters match, is the same on every message.
    assert {m["From"].addresses[0].addr_spec for m in msgs.values()} == {
        "monitor@collective.example"
    }


def test_other_kinds_keep_the_plain_sender_name() -> None:
    n = EmailNotifier("email", config(), AGENCY, clock=lambda: NOW)
    msg = n.build_message(note(event("security-now")), NOW)
    assert sender_name(msg) == "Collective monitoring"
