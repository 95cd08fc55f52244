#!/usr/bin/env bash
# Installs (Debian packages) and starts the local services the tests talk to, idempotently:
# PostgreSQL (127.0.0.1:5432, trust auth for local users, database `test`) and MariaDB
# (127.0.0.1:3306, root with an empty password, database `test`). The connector tests also need a
# password-authenticated PostgreSQL role (fstore_reader) to check wrong-password errors.
# The end-to-end tests also need Chromium (the /docs and dashboard browser tests, driven by
# playwright-core with no browser download) and Debian's python3 with requests, pytest and venv
# (the Python client and the guide's Python examples), and kcat, whose librdkafka hosts the mock
# Kafka cluster the stream bridge tests and benchmark run against (test/e2e/setup/kafka-mock.ts).
set -euo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "services: $name did not come up" >&2
  return 1
}

# --- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "services: installing postgresql"
  apt_install postgresql
fi
PG_VERSION=$(ls /etc/postgresql | sort -V | tail -1)
PG_HBA=/etc/postgresql/$PG_VERSION/main/pg_hba.conf
hba_changed=0
# The reader role authenticates with a password (the tests check a wrong one is refused);
# everyone else local is trusted, as on the developer machines.
if ! grep -q '^host all fstore_reader 127.0.0.1/32 scram-sha-256' "$PG_HBA"; then
  $SUDO sed -i '1i host all fstore_reader 127.0.0.1/32 scram-sha-256' "$PG_HBA"
  hba_changed=1
fi
if ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$PG_HBA"; then
  # A fresh Debian install asks for a password on 127.0.0.1 (scram-sha-256): trust it instead.
  if grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s' "$PG_HBA"; then
    $SUDO sed -i -E 's#^(host\s+all\s+all\s+127\.0\.0\.1/32\s+)\S+#\1trust#' "$PG_HBA"
  else
    echo 'host all all 127.0.0.1/32 trust' | $SUDO tee -a "$PG_HBA" >/dev/null
  fi
  hba_changed=1
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "services: starting postgresql $PG_VERSION"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
  wait_for postgresql pg_isready -q -h 127.0.0.1 -p 5432
elif [ "$hba_changed" -eq 1 ]; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main reload
fi
psql_admin() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
for role in root; do
  psql_admin -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role SUPERUSER LOGIN; END IF; END\$\$"
done
psql_admin -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fstore_reader') THEN CREATE ROLE fstore_reader LOGIN; END IF; END\$\$"
psql_admin -d postgres -c "SET password_encryption = 'scram-sha-256'; ALTER ROLE fstore_reader PASSWORD 'fstore-reader-pw'"
if [ -z "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
  psql_admin -d postgres -c "CREATE DATABASE test"
fi
echo "services: postgresql $PG_VERSION ready on 127.0.0.1:5432"

# --- MariaDB ------------------------------------------------------------------------------
if [ ! -x /usr/sbin/mariadbd ]; then
  echo "services: installing mariadb-server"
  apt_install mariadb-server
fi
if ! mysqladmin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; then
  echo "services: starting mariadb"
  $SUDO install -d -o mysql -g mysql /run/mysqld
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for mariadb mysqladmin -h 127.0.0.1 -P 3306 -uroot ping
fi
if ! mysql -h 127.0.0.1 -P 3306 -uroot -e "SELECT 1" >/dev/null 2>&1; then
  # A fresh Debian install lets root in through the unix socket only: allow an empty password on TCP too.
  $SUDO mysql -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
fi
mysql -h 127.0.0.1 -P 3306 -uroot -e "CREATE DATABASE IF NOT EXISTS test"
echo "services: mariadb ready on 127.0.0.1:3306"

# --- Chromium and Python for the end-to-end tests (/docs, the dashboard, the Python client) ---
if [ ! -x /usr/bin/chromium ]; then
  echo "services: installing chromium"
  apt_install chromium
fi
if ! /usr/bin/python3 -c "import requests, pytest, ensurepip" >/dev/null 2>&1; then
  echo "services: installing python3, python3-requests, python3-pytest, python3-venv"
  apt_install python3 python3-requests python3-pytest python3-venv
fi
echo "services: chromium and python3 (requests, pytest) ready"

# --- kcat: hosts librdkafka's mock Kafka cluster for the stream bridge tests and benchmark ---
if ! command -v kcat >/dev/null; then
  echo "services: installing kcat"
  apt_install kcat
fi
echo "services: kcat ready ($(kcat -V 2>&1 | head -1))"
