"""
``FeatureStore``: the guide's Python API over FStore's REST API (the same calls as the TypeScript
SDK in src/sdk). URL and key come from FSTORE_URL and FSTORE_KEY unless given.

Calls are safe to repeat: creating a feature that already exists with a compatible definition
updates it instead of failing, and a call that fails removes the connector it created.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

import requests

from .errors import FStoreError

DEFAULT_URL = "http://localhost:8000"
FIXED_FIELDS = ("entity_id", "feature_group", "value_type")
SOURCE_TYPE_OF_KIND = {"sql": "sql", "lake": "file", "stream": "stream"}

# The connector constructed last of each kind ("sql", "lake", "stream"): what a definition that
# names no connector reads from (the guide never passes its S3Connector to create_feature).
_latest_connectors = {}


def remember_connector(connector):
    """Called by every connector's constructor."""
    _latest_connectors[connector.kind] = connector


def source_kind_of(definition):
    """Which kind of source a definition reads from, by its fields: "sql", "lake", "stream" or None."""
    if definition.get("query"):
        return "sql"
    if definition.get("path") or definition.get("batch_config"):
        return "lake"
    if definition.get("topic") or definition.get("stream_config"):
        return "stream"
    return None


class Record(dict):
    """A JSON object from FStore whose keys are also attributes (``feature.name``, ``run.status``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Feature(Record):
    """A feature definition as FStore holds it."""


class Run(Record):
    """A materialization run: status, rows_read, rows_written, rows_unchanged, watermark, error."""


def _timestamp(value):
    if value is None:
        return datetime.now(timezone.utc).isoformat()
    if isinstance(value, datetime):
        return value.isoformat()  # naive = UTC, as datetime.utcnow() gives
    return str(value)


def _path(part):
    return quote(str(part), safe="")


class _TerminalProgress:
    """Default progress of a run: one line redrawn on stderr when it is a terminal."""

    def __init__(self):
        self.started = time.monotonic()

    def __call__(self, run):
        if not sys.stderr.isatty():
            return
        seconds = int(time.monotonic() - self.started)
        sys.stderr.write(f"\rrun {run['id']}: {run['status']:<9} {run['rows_read']:,} rows read  {seconds // 60:02d}:{seconds % 60:02d}\x1b[K")
        if run["status"] in ("succeeded", "failed"):
            sys.stderr.write("\n")
        sys.stderr.flush()


class FeatureStore:
    """A running FStore. ``FeatureStore()`` uses FSTORE_URL (default http://localhost:8000) and FSTORE_KEY."""

    def __init__(self, url=None, api_key=None, timeout=30, session=None):
        self.url = (url or os.environ.get("FSTORE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key or os.environ.get("FSTORE_KEY")
        self.timeout = timeout
        self.session = session or requests.Session()

    # --- plumbing -----------------------------------------------------------------------------

    def request(self, method, path, body=None):
        """One API call; an error answer raises FStoreError with FStore's code and message."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.session.request(method, self.url + path, json=body, headers=headers, timeout=self.timeout)
        except requests.exceptions.ConnectionError as err:
            raise FStoreError(0, "UNREACHABLE", f"cannot reach FStore at {self.url} ({err.__class__.__name__}): is it running (npm run dev)? "
                              "FSTORE_URL sets its address") from err
        if response.ok:
            return response.json() if response.content else None
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        message = error.get("message") or f"{method} {path}: HTTP {response.status_code} {response.text[:200]}"
        if response.status_code == 401 and not self.api_key:
            message += " (no API key given: set FSTORE_KEY; `npm run dev` writes one to .dev.vars as FSTORE_ADMIN_KEY)"
        raise FStoreError(response.status_code, error.get("code", "HTTP_ERROR"), message, error.get("details"), response=response)

    def _with_connector(self, connector, action):
        """Runs ``action(name)``; if it fails, a connector this call created is removed again."""
        if connector is None:
            return action(None)
        if isinstance(connector, str):
            return action(connector)
        name, created = connector.ensure(self)
        try:
            return action(name)
        except Exception:
            if created:
                try:
                    self.delete_connector(name)
                except FStoreError:
                    pass
            raise

    # --- features -----------------------------------------------------------------------------

    def register_feature(self, feature_definition, connector=None):
        """
        Registers a feature, or brings an existing one of the same name up to this definition, so a
        script can run twice. With ``connector`` (or, when the definition reads a source and names
        no connector, the connector of that kind constructed last), makes sure FStore holds it and
        links it. A feature that exists with another entity, group, value type or kind of source
        raises CONFLICT.
        """
        definition = dict(feature_definition)
        kind = source_kind_of(definition)
        if connector is None and not definition.get("connector") and kind in ("sql", "lake"):
            connector = _latest_connectors.get(kind)
        return self._with_connector(connector, lambda name: self._apply_feature({**definition, "connector": name} if name else definition))

    def create_feature(self, definition=None, connector=None, **fields):
        """The guide's ``create_feature(name=..., query=... | batch_config=... | stream_config=...)``; a dict works too."""
        return self.register_feature({**(definition or {}), **fields}, connector=connector)

    def get_feature(self, name):
        return Feature(self.request("GET", f"/api/v1/features/{_path(name)}"))

    def list_features(self, feature_group=None, entity=None, source_type=None):
        features, cursor = [], None
        while True:
            query = {k: v for k, v in {"feature_group": feature_group, "entity": entity, "source_type": source_type, "cursor": cursor}.items() if v}
            page = self.request("GET", f"/api/v1/features?{urlencode({'limit': 1000, **query})}")
            features += [Feature(f) for f in page["features"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return features

    def update_feature(self, name, **changes):
        """Changes a feature's editable fields (description, ttl, tags, owner, query, schedule, connector, ...)."""
        return Feature(self.request("PATCH", f"/api/v1/features/{_path(name)}", changes))

    def delete_feature(self, name):
        self.request("DELETE", f"/api/v1/features/{_path(name)}")

    def _apply_feature(self, definition):
        try:
            return Feature(self.request("POST", "/api/v1/features", definition))
        except FStoreError as conflict:
            if conflict.status != 409:
                raise
            # Names are unique per feature group: the conflicting feature is this name in the
            # definition's group (the server's defaults).
            ref = f"{definition.get('feature_group') or definition.get('entity_id') or 'entity'}:{definition['name']}"
            try:
                existing = self.get_feature(ref)
            except FStoreError:
                raise conflict from None  # a conflict other than the name (e.g. the group's entity)
            name = definition["name"]
            fix = f"delete it first (store.delete_feature('{name}') or npx fstore features delete {name}) or choose another name"
            for field in FIXED_FIELDS:
                if definition.get(field) is not None and definition[field] != existing.get(field):
                    raise FStoreError(409, "CONFLICT", f"feature '{name}' already exists with {field} '{existing.get(field)}', "
                                      f"not '{definition[field]}': {fix}", {"existing": existing}) from None
            kind = source_kind_of(definition)
            if kind and SOURCE_TYPE_OF_KIND[kind] != existing["source_type"]:
                raise FStoreError(409, "CONFLICT", f"feature '{name}' already exists as a {existing['source_type']} feature; this definition "
                                  f"makes a {SOURCE_TYPE_OF_KIND[kind]} feature: {fix}", {"existing": existing}) from None
            changes = {k: v for k, v in definition.items()
                       if k != "name" and k not in FIXED_FIELDS and v is not None
                       and json.dumps(existing.get(k), sort_keys=True) != json.dumps(v, sort_keys=True)}
            return self.update_feature(ref, **changes) if changes else existing

    # --- values -------------------------------------------------------------------------------

    def send_feature_value(self, feature_id, entity_id, value, timestamp=None):
        """The guide's ``send_feature_value``: True once FStore stored it (errors raise FStoreError).
        ``timestamp``: ISO 8601 text (``datetime.utcnow().isoformat()`` works), a datetime, or now."""
        self.request("POST", f"/api/v1/features/{_path(feature_id)}/values",
                     {"entity_id": entity_id, "value": value, "timestamp": _timestamp(timestamp)})
        return True

    def send_batch_values(self, features):
        """The guide's ``send_batch_values``: a list of {feature_id, entity_id, value, timestamp}; all or nothing."""
        items = [{**f, "timestamp": _timestamp(f["timestamp"])} if f.get("timestamp") is not None else dict(f) for f in features]
        self.request("POST", "/api/v1/features/batch", items)
        return True

    def get_latest_value(self, feature_id, entity_id):
        return Record(self.request("GET", f"/api/v1/features/{_path(feature_id)}/values/{_path(entity_id)}"))

    def get_online_features(self, entity_ids, features=None, feature_group=None):
        body = {"entity_ids": list(entity_ids)}
        if features:
            body["features"] = list(features)
        if feature_group:
            body["feature_group"] = feature_group
        return self.request("POST", "/api/v1/online-features", body)

    def get_historical_features(self, features, entity_rows):
        return self.request("POST", "/api/v1/historical-features", {"features": list(features), "entity_rows": list(entity_rows), "format": "json"})

    # --- runs ---------------------------------------------------------------------------------

    def update_feature_values(self, name, connector=None, progress=None, timeout=600):
        """
        The guide's ``update_feature_values(name, connector)``: links the connector when given,
        runs the feature's query (or file read) now and waits for the run. ``progress`` is called
        with the run at each poll (default: a status line on stderr when it is a terminal; False:
        nothing). A failed run raises FStoreError RUN_FAILED with the run's error.
        """
        if connector is not None:
            self._with_connector(connector, lambda linked: self.update_feature(name, connector=linked))
        return self.materialize(name, progress=progress, timeout=timeout)

    def run_batch_processing(self, name, connector=None, progress=None, timeout=600):
        """The guide's ``run_batch_processing(name)`` for data-lake features (same as update_feature_values)."""
        return self.update_feature_values(name, connector, progress=progress, timeout=timeout)

    def materialize(self, name, progress=None, timeout=600):
        run = self.request("POST", f"/api/v1/features/{_path(name)}/materialize")
        return self.wait_for_run(run["id"], progress=progress, timeout=timeout)

    def get_run(self, run_id):
        return Run(self.request("GET", f"/api/v1/runs/{_path(run_id)}"))

    def list_runs(self, name, limit=50):
        return [Run(r) for r in self.request("GET", f"/api/v1/features/{_path(name)}/runs?limit={int(limit)}")["runs"]]

    def wait_for_run(self, run_id, progress=None, timeout=600, poll=0.5):
        show = _TerminalProgress() if progress is None else (progress or (lambda run: None))
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            show(run)
            if run.status == "succeeded":
                return run
            if run.status == "failed":
                raise FStoreError(0, "RUN_FAILED", f"run {run_id} of '{run.feature_id}' failed: {run.error or 'unknown error'}", run)
            if time.monotonic() > deadline:
                raise FStoreError(0, "RUN_TIMEOUT", f"run {run_id} is still {run.status} after {timeout} s; it goes on in FStore "
                                  f"(GET /api/v1/runs/{run_id})", run)
            time.sleep(poll)

    # --- streaming ----------------------------------------------------------------------------

    def start_streaming_feature(self, name, connector=None, bridge=True):
        """
        The guide's ``start_streaming_feature(name, connector)``. Python (with only ``requests``) cannot
        consume Kafka or Pulsar itself, so this binds the feature to ``connector`` (making sure FStore
        holds it; PATCH {connector} when the feature reads through none yet) and, with ``bridge=True``,
        starts the stream bridge for the feature's topic as a background process — the fstore npm
        package's ``fstore stream`` from the current directory (see _bridge_command), or
        FSTORE_BRIDGE_COMMAND — that keeps running
        after the script ends (stop it with ``.stop()`` or ``kill <pid>``). A bridge this call started
        earlier for the same FStore and topic, still running, is reused. Its output goes to
        ``.log_file``. With ``bridge=False`` only the binding is done: run ``npm run stream``
        (docs/bridges.md) yourself. Returns a StreamingBridge (``bridge=True``) or the feature.
        """
        feature = self.get_feature(name)
        topic = feature.get("topic") or (feature.get("stream_config") or {}).get("topic")
        if feature.get("source_type") != "stream" or not topic:
            raise FStoreError(400, "NOT_A_STREAM_FEATURE", f"feature '{name}' reads no topic (it is a {feature.get('source_type')} feature): "
                              "define it with topic or stream_config")
        bound = feature.get("connector")
        if connector is not None:
            if getattr(connector, "kind", None) != "stream":
                raise FStoreError(400, "VALIDATION_FAILED", "only a KafkaConnector or PulsarConnector can feed a stream feature")
            if bound and bound != connector.name:
                raise FStoreError(409, "CONFLICT", f"feature '{name}' already reads through connector '{bound}', not '{connector.name}'")
            if bound:
                connector.ensure(self)
            else:
                feature = self._with_connector(connector, lambda linked: self.update_feature(name, connector=linked))
        elif not bound:
            raise FStoreError(400, "NO_CONNECTOR", f"feature '{name}' reads through no connector: pass a KafkaConnector or PulsarConnector")
        if not bridge:
            return feature
        secrets = {}
        if connector is not None:
            for field, value in connector.config.items():
                if value is not None and re.search(r"password|secret|credential|token|key", field, re.IGNORECASE):
                    secrets[_secret_variable(connector.name, field)] = str(value)
        return StreamingBridge.start(self, topic, connector.name if connector is not None else bound, secrets)

    # --- connectors ---------------------------------------------------------------------------

    def list_connectors(self):
        return [Record(c) for c in self.request("GET", "/api/v1/connectors")["connectors"]]

    def get_connector(self, name):
        return Record(self.request("GET", f"/api/v1/connectors/{_path(name)}"))

    def create_connector(self, name, type, config):
        return Record(self.request("POST", "/api/v1/connectors", {"name": name, "type": type, "config": config}))

    def test_connector(self, name):
        return Record(self.request("POST", f"/api/v1/connectors/{_path(name)}/test"))

    def delete_connector(self, name):
        self.request("DELETE", f"/api/v1/connectors/{_path(name)}")


def _secret_variable(connector, field):
    """``FSTORE_SECRET_<CONNECTOR>_<FIELD>``, as the bridge reads connector secrets (docs/bridges.md)."""
    def norm(text):
        return re.sub(r"[^A-Z0-9]", "_", text.upper())
    return f"FSTORE_SECRET_{norm(connector)}_{norm(field)}"


def _bridge_command():
    """
    How to run the bridge: FSTORE_BRIDGE_COMMAND, else the fstore package's CLI run by ``node``
    directly (so the pid is the bridge's and signals reach it) from ./node_modules/fstore (a
    project that installed it) or ./dist/sdk (this repository), else ``npx --no-install fstore stream``.
    """
    if os.environ.get("FSTORE_BRIDGE_COMMAND"):
        return shlex.split(os.environ["FSTORE_BRIDGE_COMMAND"])
    installed = os.path.join("node_modules", "fstore", "dist", "sdk", "cli", "main.js")
    if os.path.exists(installed):
        return ["node", installed, "stream"]
    try:
        with open("package.json") as f:
            here = json.load(f).get("name") == "fstore"
    except (OSError, ValueError):
        here = False
    built = os.path.join("dist", "sdk", "cli", "main.js")
    if here and os.path.exists(built):
        return ["node", built, "stream"]
    return ["npx", "--no-install", "fstore", "stream"]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class StreamingBridge:
    """A stream bridge process started by ``start_streaming_feature`` for one topic."""

    def __init__(self, topic, connector, pid, log_file, state_file):
        self.topic = topic
        self.connector = connector
        self.pid = pid
        self.log_file = log_file
        self._state_file = state_file

    @classmethod
    def start(cls, store, topic, connector, secrets):
        key = re.sub(r"[^A-Za-z0-9]+", "_", f"{store.url}_{topic}").strip("_")[:150]
        state_file = os.path.join(tempfile.gettempdir(), f"fstore-stream-{key}.json")
        try:
            with open(state_file) as f:
                state = json.load(f)
            if _alive(state["pid"]):
                return cls(topic, connector, state["pid"], state["log_file"], state_file)
        except (OSError, ValueError, KeyError):
            pass
        command = _bridge_command()
        env = {**os.environ, **secrets, "FSTORE_URL": store.url, "FSTORE_STREAM_TOPICS": topic}
        if store.api_key:
            env["FSTORE_KEY"] = store.api_key
        log_file = os.environ.get("FSTORE_STREAM_LOG") or os.path.join(tempfile.gettempdir(), f"fstore-stream-{key}.log")
        with open(log_file, "ab") as log:
            try:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            except OSError as err:
                raise FStoreError(0, "NO_BRIDGE", f"cannot start the stream bridge ({' '.join(command)}: {err}): install Node 22 and the fstore npm "
                                  "package, or set FSTORE_BRIDGE_COMMAND, or run `npm run stream` yourself (start_streaming_feature(..., bridge=False))") from err
        # A bridge that cannot start (no fstore package, FStore refusing the key) exits at once: say so now.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        if process.poll() is not None:
            with open(log_file, errors="replace") as f:
                tail = f.read()[-1500:]
            raise FStoreError(0, "NO_BRIDGE", f"the stream bridge ({' '.join(command)}) exited with {process.returncode}:\n{tail}")
        with open(state_file, "w") as f:
            json.dump({"pid": process.pid, "log_file": log_file}, f)
        return cls(topic, connector, process.pid, log_file, state_file)

    @property
    def running(self):
        return _alive(self.pid)

    def stop(self, timeout=30):
        """SIGTERM: the bridge forwards and commits its in-flight batch, then exits. Returns whether it exited in time."""
        if not self.running:
            return True
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done == self.pid:
                    break
            except ChildProcessError:
                if not _alive(self.pid):
                    break
            time.sleep(0.1)
        try:
            os.remove(self._state_file)
        except OSError:
            pass
        return not self.running

    def __repr__(self):
        return f"StreamingBridge(topic={self.topic!r}, connector={self.connector!r}, pid={self.pid}, log_file={self.log_file!r})"
