"""Errors of the FStore client: FStore's error code, message and details, in one exception type."""
import requests


class FStoreError(requests.exceptions.HTTPError):
    """
    An error answer from FStore (or no answer at all).

    ``code`` is FStore's error code (FEATURE_NOT_FOUND, VALIDATION_FAILED, CONFLICT, ...) or the
    client's own (UNREACHABLE, RUN_FAILED, CONNECTOR_TEST_FAILED, NO_BRIDGE);
    ``status`` the HTTP status (0 without one). It is a ``requests.exceptions.RequestException``,
    so the guide's ``except requests.exceptions.RequestException`` catches it too.
    """

    def __init__(self, status, code, message, details=None, response=None):
        super().__init__(f"{code}: {message}", response=response)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
