#!/usr/bin/env bash
# Installs (Debian packages) and starts the local services the tests talk to.
# The foundation needs none; database-backed connector tests add theirs here.
set -euo pipefail
echo "services: none needed yet"
