"""Database router of the embedded mode's channel layer (channels-lite, config/settings.py).

Its tables live in their own SQLite file (the `channels` database) so that the live events'
small writes never wait for the main database's write lock, nor it for them; that file
holds those tables only (`migrate --database channels`, run by start_services.sh).
channels-lite ships a router too, but it allows every other app on every database, so
migrating the `channels` database would copy the whole schema into it.
"""

from __future__ import annotations

LIVE_APP = "channels_lite"
LIVE_DATABASE = "channels"


class ChannelsLiteRouter:
    def db_for_read(self, model, **hints):
        return LIVE_DATABASE if model._meta.app_label == LIVE_APP else None

    def db_for_write(self, model, **hints):
        return LIVE_DATABASE if model._meta.app_label == LIVE_APP else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == LIVE_APP:
            return db == LIVE_DATABASE
        return False if db == LIVE_DATABASE else None
