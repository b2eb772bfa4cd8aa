"""The browser tests' fixtures (staff/tests/browser.py)."""

from staff.tests.browser import browser, live_asgi, new_page  # noqa: F401 (fixtures)
