#!/usr/bin/env bash
# Databases and roles of the full stack's PostgreSQL (run once, on an empty data
# directory, by the postgres image's entrypoint).
#
#   airflow    Airflow's metadata database (and Celery result backend)   role airflow
#   govlake    the platform's warehouse: raw → staging → libraries        role govlake
#   kp_police  公安局 人口户籍管理系统 (simulated departmental system)     role kp_police
#   kp_hrss    人社局 社会保险信息系统 (simulated departmental system)     role kp_hrss
#   kp_tax     税务局 税收征管系统 (simulated departmental system)         role kp_tax
#
# Each role gets its password from the environment (docker-compose.yaml passes them
# from .env); none is written here. Passwords are handed to psql as variables and
# quoted by psql (:'name'), so any character is safe in SQL.
set -euo pipefail

require() {
    local name=$1
    if [[ -z "${!name:-}" ]]; then
        echo "10-govlake-databases.sh: ${name} is not set (see .env.example)" >&2
        exit 1
    fi
}
for variable in AIRFLOW_DB_PASSWORD WAREHOUSE_DB_PASSWORD \
    KP_POLICE_DB_PASSWORD KP_HRSS_DB_PASSWORD KP_TAX_DB_PASSWORD; do
    require "${variable}"
done

create_database() {
    local database=$1 role=$2 password=$3
    psql --no-psqlrc -v ON_ERROR_STOP=1 \
        --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v db="${database}" -v role="${role}" -v password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db', :'role', 'UTF8')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'role') \gexec
SQL
}

create_database airflow airflow "${AIRFLOW_DB_PASSWORD}"
create_database govlake govlake "${WAREHOUSE_DB_PASSWORD}"
create_database kp_police kp_police "${KP_POLICE_DB_PASSWORD}"
create_database kp_hrss kp_hrss "${KP_HRSS_DB_PASSWORD}"
create_database kp_tax kp_tax "${KP_TAX_DB_PASSWORD}"

echo "10-govlake-databases.sh: created databases airflow, govlake, kp_police, kp_hrss, kp_tax"
