# The one Airflow image of the full stack (docker-compose.yaml): api-server, scheduler,
# dag-processor, triggerer and Celery workers all run this image, so every component sees
# the same code, DAGs, dbt project and expectations.
#
# The base tag must equal the apache-airflow pin in requirements.txt (tests/test_compose.py
# checks it). Build: docker compose build
FROM apache/airflow:3.3.2-python3.11

# The source tree lives at /opt/govlake. govlake.config derives PROJECT_ROOT (catalog,
# standards, DAGs) from the location of its own module, so the package is installed
# editable from this tree, never copied into site-packages.
ENV GOVLAKE_SRC=/opt/govlake \
    GOVLAKE_HOME=/var/lib/govlake \
    PIP_DISABLE_PIP_VERSION_CHECK=1

USER root
# Named volumes mounted on these paths start with the image's ownership.
RUN install -d -o airflow -g 0 -m 0775 "${GOVLAKE_SRC}" "${GOVLAKE_HOME}" /opt/airflow/logs
USER airflow
WORKDIR ${GOVLAKE_SRC}

# Dependencies first (the layer is cached until the pins change). requirements.lock is the
# constraint: every transitive package gets exactly the locked version, the same set the
# embedded runtime and CI install. apache-airflow is pinned in requirements.txt to the
# base image's version, so pip never up- or downgrades Airflow itself.
COPY --chown=airflow:0 requirements.txt requirements.lock ./
RUN pip install --no-cache-dir --constraint requirements.lock --requirement requirements.txt

# The platform: package and resources, DAGs, plugins, dbt project, GE context.
# README.m[d]: the readme pyproject.toml names, copied when it exists (a glob may match nothing).
COPY --chown=airflow:0 pyproject.toml README.m[d] ./
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 expectations/ expectations/
RUN pip install --no-cache-dir --no-deps --editable . \
    && python -c "import govlake.config as c; assert c.DAGS_DIR.is_dir(), c.DAGS_DIR"

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/govlake/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/govlake/plugins
