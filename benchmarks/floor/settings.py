"""The product's settings with one change: the URLconf is the floor's single view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.floor.urls"
