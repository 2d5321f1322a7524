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
# gcc only for the install: it compiles the SOAP fast path's tree walker (setup.py), then leaves the image
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -c constraints.txt -e ".[airflow,postgres]" \
    && python -c "from connectors.soap.decode import WALKER; assert WALKER.startswith('compiled'), WALKER" \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

USER tongban
ENTRYPOINT ["tini", "--"]
CMD ["tongban", "--help"]
