"""Errors of the FStore client: FStore's error code, message and details, in one exception type."""
import requests


class FStoreError(requests.exceptions.HTTPError):
    """
    An error answer from FStore (or no answer at all).

    ``code`` is FStore's error code (FEATURE_NOT_FOUND, VALIDATION_FAILED, CONFLICT, ...) or the
    client's own (UNREACHABLE, RUN_FAILED, CONNECTOR_TEST_FAILED, STREAMING_NOT_AVAILABLE);
    ``status`` the HTTP status (0 without one). It is a ``requests.exceptions.RequestException``,
    so the guide's ``except requests.exceptions.RequestException`` catches it too.
    """

    def __init__(self, status, code, message, details=None, response=None):
        super().__init__(f"{code}: {message}", response=response)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class StreamingNotAvailable(FStoreError):
    """Raised by the streaming calls (Kafka, Pulsar): FStore does not consume streams yet."""

    def __init__(self, what):
        super().__init__(
            0,
            "STREAMING_NOT_AVAILABLE",
            f"{what} needs streaming, which FStore does not have yet: stream features can be registered "
            "(create_feature(stream_config=...)) but nothing reads Kafka or Pulsar topics (docs/roadmap.md). "
            "Push values over REST meanwhile: store.send_feature_value(...) or send_batch_values(...)",
        )
