"""
A PEP 517 build backend for this one pure-Python package, standard library only.

pip builds packages in an isolated environment and installs the backend named in pyproject.toml
into it first; with setuptools that means a download, which fails offline. This backend lives in
the source tree (``backend-path``) and needs nothing, so ``pip install ./clients/python`` works
without network. It writes a py3-none-any wheel of the ``fstore`` package (and an sdist), with
the name, version, summary and dependencies of pyproject.toml's ``[project]`` table.
"""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

try:
    import tomllib
except ImportError:  # Python < 3.11
    try:
        import tomli as tomllib
    except ImportError as err:
        raise ImportError("building the fstore client needs Python 3.11+ (tomllib) or the tomli package; "
                          "or skip the build: PYTHONPATH=clients/python") from err

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "fstore"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3')}",
    ]
    lines += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    readme = project.get("readme")
    if readme:
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            lines += ["Description-Content-Type: text/markdown", "", f.read()]
    return "\n".join(lines) + "\n"


def _sources():
    """The package's files, as (path in the archive, bytes), without caches."""
    for folder, dirs, files in os.walk(os.path.join(ROOT, PACKAGE)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith((".py", ".typed")):
                full = os.path.join(folder, name)
                with open(full, "rb") as f:
                    yield os.path.relpath(full, ROOT).replace(os.sep, "/"), f.read()


def _dist_name(project):
    return f"{project['name'].replace('-', '_')}-{project['version']}"


def _write_wheel(wheel_directory, files):
    project = _project()
    dist = _dist_name(project)
    info = f"{dist}.dist-info"
    entries = list(files) + [
        (f"{info}/METADATA", _metadata(project).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: fstore_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    for path, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    wheel_name = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries:
            zf.writestr(path, data)
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _sources())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """`pip install -e`: a wheel holding only a .pth file that puts this folder on sys.path."""
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    dist = _dist_name(project)
    name = f"{dist}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        def add(path, data):
            member = tarfile.TarInfo(f"{dist}/{path}")
            member.size = len(data)
            member.mode = 0o644
            tar.addfile(member, io.BytesIO(data))
        for path, data in _sources():
            add(path, data)
        for extra in ("pyproject.toml", "README.md", "build_backend/fstore_build.py"):
            with open(os.path.join(ROOT, extra), "rb") as f:
                add(extra, f.read())
        add("PKG-INFO", _metadata(project).encode())
    return name
