# One image for every Tongban process in docker-compose.yml: the Airflow components (api-server, scheduler,
# dag-processor, triggerer, Celery workers), the gateway API and the sandbox. Versions from constraints.txt.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/tongban/dags \
    TONGBAN_SYSTEMS=/opt/tongban/config/systems.yaml

RUN apt-get update && apt-get install -y --no-install-recommends curl tini && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 50000 tongban && mkdir -p /opt/airflow /opt/tongban \
    && chown tongban /opt/airflow /opt/tongban

WORKDIR /opt/tongban
COPY --chown=tongban . /opt/tongban
RUN pip install --no-cache-dir -c constraints.txt -e ".[airflow,postgres]"

USER tongban
ENTRYPOINT ["tini", "--"]
CMD ["tongban", "--help"]
