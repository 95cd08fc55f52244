"""`pip install ./clients/python` works offline: the in-tree build backend needs nothing from PyPI."""
import os
import subprocess
import sys
import venv


def test_pip_installs_the_client_without_network(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env_dir = tmp_path / "venv"
    # System site packages: requests comes from the system, so pip has nothing to download.
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-cache-dir", root], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    imported = subprocess.run([python, "-c", "import fstore, fstore.connectors; print(fstore.__file__, fstore.__version__)"],
                              capture_output=True, text=True, cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert imported.returncode == 0, imported.stderr
    assert str(env_dir) in imported.stdout and "0.1.0" in imported.stdout
    assert sys.version_info >= (3, 9)
