"""The one list of providers a bot may use (Chatbot.provider holds the key).

An unknown key is an error that names the valid ones, never a silent fallback to some
default provider (a bot that silently "sends" through the stub loses every message).
"""

from __future__ import annotations

from chatbots.providers.base import Provider
from chatbots.providers.evolution import EvolutionProvider
from chatbots.providers.meta import MetaProvider
from chatbots.providers.stub import StubProvider
from chatbots.providers.whaticket import WhaticketProvider

# Registration order is the admin dropdown's order.
PROVIDERS: dict[str, type[Provider]] = {
    cls.key: cls for cls in (MetaProvider, StubProvider, EvolutionProvider, WhaticketProvider)
}


class UnknownProvider(LookupError):
    """Chatbot.provider names no registered provider."""

    def __init__(self, key: str):
        self.key = key
        valid = ", ".join(sorted(PROVIDERS))
        super().__init__(f"unknown WhatsApp provider {key!r}; registered providers: {valid}")


def register(cls: type[Provider]) -> type[Provider]:
    """Class decorator for a provider outside this package (a deployment's own): one key
    each. A module that uses it must not be imported by this one."""
    if cls.key in PROVIDERS and PROVIDERS[cls.key] is not cls:
        raise ValueError(f"provider key {cls.key!r} is already taken by {PROVIDERS[cls.key]}")
    PROVIDERS[cls.key] = cls
    return cls


def get_provider(key: str) -> Provider:
    """An instance of the provider registered under `key`; UnknownProvider otherwise."""
    try:
        cls = PROVIDERS[key]
    except KeyError:
        raise UnknownProvider(key) from None
    return cls()


def provider_choices() -> list[tuple[str, str]]:
    """(key, pt-BR label) pairs for the admin's provider dropdown, in registration order."""
    # Labels are lazy translations on the classes; str() renders them in the active language.
    return [(key, str(cls.label)) for key, cls in PROVIDERS.items()]
