"""The browser fixtures (a real Streamlit server, Debian's Chromium) for the upload-crash test."""
from tests.browser.conftest import browser, page, pytest_runtest_makereport, streamlit_server  # noqa: F401
