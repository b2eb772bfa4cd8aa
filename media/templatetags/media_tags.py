"""`{% message_media m %}`: what a message carries besides text, where staff read it (the
staff app's conversation, the admin): the file through its signed link, a location as an
address with a map link, and the mark of a voice note's transcription."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.core.exceptions import ObjectDoesNotExist

from media.services import media_link

register = template.Library()


def _map_url(location: dict) -> str:
    # Google Maps URLs (https://developers.google.com/maps/documentation/urls/get-started):
    # a search by coordinates opens the pin on any phone or browser, no key needed.
    query = f"{location.get('latitude')},{location.get('longitude')}"
    return "https://www.google.com/maps/search/?" + urlencode({"api": 1, "query": query})


@register.inclusion_tag("media/_message_media.html")
def message_media(message) -> dict:
    data = (message.payload or {}).get("data") or {}
    context: dict = {"message": message, "transcription": bool(data.get("transcription_of"))}
    location = data.get("location")
    if isinstance(location, dict) and "latitude" in location:
        context["location"] = {
            "name": location.get("name", ""),
            "address": location.get("address", ""),
            "coordinates": f"{location.get('latitude')}, {location.get('longitude')}",
            "map_url": _map_url(location),
        }
    try:
        attachment = message.attachment
    except ObjectDoesNotExist:
        return context
    context["attachment"] = attachment
    if attachment.file is not None:
        context["url"] = media_link(attachment.file)
        context["family"] = attachment.file.content_type.split("/")[0]
    return context
