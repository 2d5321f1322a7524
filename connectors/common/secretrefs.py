"""Secrets as request parameter values: ``{secret: NAME}`` wherever a connector YAML gives parameters.

Many systems take credentials as ordinary parameters — an ASMX service's ``strUserName``/``strUserPwd``, a
gateway's ``?access_token=`` — not in a header. The YAML never holds the value; it names a secret, exactly as
``auth`` and ``wsse`` do (``secret: api_key``, ``password_secret: password``), and the value comes from the
system's secrets (the systems file maps each name to an environment variable, or an Airflow connection holds
it)::

    # config/connectors/gov_noise.yaml                # config/systems.yaml
    params:                                           gov_noise:
      strUserName: {secret: username}                   secrets: {username: NOISE_USER, password: NOISE_PWD}
      strUserPwd: {secret: password}

A mapping with the single key ``secret`` is always a reference (at any depth of a parameter value). References
are checked when the connector is built (a secret that is not set is a :class:`ConfigError` naming the YAML
path) and resolved only when the request is sent, so paging state, error messages and logs keep the reference,
never the value; :meth:`SecretParams.redact` masks a value that a server echoes back into an error.

A parameter written as ``"${NAME}"`` or ``"{name}"`` would be sent as that text (the systems file's ``${VAR}``
expansion applies to ``endpoint`` only; ``{field}`` templates exist in write parameters only): reads refuse it at
load, naming the reference to write instead (:func:`literal_template_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gateway.contract.errors import ConfigError

REF_KEY = "secret"
_MASK = "***"
_ENV_LIKE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$")
_TEMPLATE_LIKE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def is_secret_ref(value: Any) -> bool:
    """``{secret: NAME}`` (one key, a name): a reference to the system's secret ``NAME``."""
    return isinstance(value, Mapping) and len(value) == 1 and REF_KEY in value


def secret_refs(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every reference inside a parameter value (nested mappings and lists too): ``(yaml path, name)``."""
    if is_secret_ref(value):
        yield path, value[REF_KEY]
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from secret_refs(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from secret_refs(item, f"{path}[{i}]")


def literal_template_problems(params: Mapping[str, Any], path: str) -> list[str]:
    """Parameter values that look like a reference in another syntax and would be sent literally."""
    problems = []
    for name, value in params.items():
        if not isinstance(value, str):
            continue
        env, template = _ENV_LIKE.match(value), _TEMPLATE_LIKE.match(value)
        if env or template:
            what = "an environment variable" if env else "a template"
            problems.append(f"{path}.{name}: {value!r} would be sent as that text ({what} is not expanded in "
                            f"parameters); for a secret write {{secret: NAME}} and map NAME to the environment "
                            f"variable in the systems file's `secrets`")
    return problems


class SecretParams:
    """The system's secrets, for parameters that reference them. Built once per connector::

        secret_params = SecretParams(secrets, label="gov_noise")
        secret_params.require(("streams.records.params", stream.params))   # at construction
        wire = secret_params.resolve(request.params)                      # when sending
    """

    def __init__(self, secrets: Mapping[str, str], *, label: str) -> None:
        self._secrets = secrets
        self._label = label
        self._used: set[str] = set()

    def require(self, *parameter_sets: tuple[str, Mapping[str, Any]]) -> None:
        """Raise :class:`ConfigError` naming every reference in the ``(yaml path, params)`` sets that is malformed
        or not set."""
        problems = []
        for path, params in parameter_sets:
            for where, name in secret_refs(params, path):
                if not isinstance(name, str) or not name:
                    problems.append(f"{where}: {{secret: ...}} must name a secret, got {name!r}")
                elif not self._secrets.get(name):
                    problems.append(f"{where}: secret {name!r} is not set (give it in the system's secrets)")
                else:
                    self._used.add(name)
        if problems:
            raise ConfigError(f"{self._label}: " + "; ".join(problems))

    def resolve(self, value: Any) -> Any:
        """``value`` with every reference replaced by the secret's value (a copy; ``value`` is left as is)."""
        if is_secret_ref(value):
            name = value[REF_KEY]
            secret = self._secrets.get(name) if isinstance(name, str) else None
            if not secret:
                raise ConfigError(f"{self._label}: secret {name!r} is not set (give it in the system's secrets)")
            self._used.add(name)
            return secret
        if isinstance(value, Mapping):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def redact(self, text: str) -> str:
        """``text`` with the value of every secret a parameter referenced masked (a server may echo it)."""
        for name in self._used:
            secret = self._secrets.get(name)
            if secret and len(secret) >= 3:
                text = text.replace(secret, _MASK)
        return text

    def redact_error(self, exc: BaseException) -> None:
        """Mask referenced secrets in an exception's message, in place."""
        if self._used and exc.args and isinstance(exc.args[0], str):
            exc.args = (self.redact(exc.args[0]), *exc.args[1:])


@contextmanager
def masked(secret_params: SecretParams) -> Iterator[None]:
    """Mask referenced secrets in any error raised inside the block (the connector's reads, writes, check)."""
    try:
        yield
    except Exception as exc:
        secret_params.redact_error(exc)
        raise


__all__ = ["REF_KEY", "SecretParams", "is_secret_ref", "literal_template_problems", "masked", "secret_refs"]
