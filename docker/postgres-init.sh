#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is created: the ledger's own database and role next to Airflow's.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE tongban LOGIN PASSWORD '${TONGBAN_DB_PASSWORD}';
CREATE DATABASE tongban OWNER tongban;
SQL
