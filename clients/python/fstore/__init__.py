"""
FStore's Python client: the API of the connection guide (``from fstore import FeatureStore``,
``from fstore.connectors import PostgreSQLConnector``) over FStore's REST API. Only needs
``requests``. URL and API key come from FSTORE_URL (default http://localhost:8000) and FSTORE_KEY.
"""
from .client import Feature, FeatureStore, Record, Run, StreamingBridge
from .errors import FStoreError

__version__ = "0.1.0"

__all__ = ["FeatureStore", "FStoreError", "Feature", "Run", "Record", "StreamingBridge"]
