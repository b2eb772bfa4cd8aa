"""Fixtures of the staff app's tests; the browser ones are in staff/tests/browser.py."""

import pytest

from staff.tests.browser import browser, live_asgi, new_page  # noqa: F401 (fixtures)


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks, celery_eager):
    """Run a block's after-commit work (the send tasks) inline."""

    def run(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run
