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
never the value; :meth:`SecretParams.redact` masks a value that a server echoes back into an error. The same
masker holds every other secret an error could quote: the auth's (``auth.secret``, ``wsse.password_secret``:
:func:`secret_names`), an OAuth access token fetched at run time, the password of ``user:password@`` in an
endpoint (:func:`url_password`) — a gateway refusing an API key often says which key it refused.

A parameter written as ``"${NAME}"`` or ``"{name}"`` would be sent as that text (the systems file's ``${VAR}``
expansion applies to ``endpoint`` only; ``{field}`` templates exist in write parameters only): reads refuse it at
load, naming the reference to write instead (:func:`literal_template_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import BaseModel

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
    """Parameter values that look like a reference in another syntax and would be sent literally, and numbers YAML
    read otherwise than they are written (:func:`rewritten_numbers`)."""
    problems = rewritten_numbers(params, path)
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


def rewritten_numbers(value: Any, path: str) -> list[str]:
    """Numbers YAML 1.1 read otherwise than they are written — ``areaCode: 0370`` is the octal 248, ``1:30`` is 90 —
    anywhere in a parameter value: sent as that number, the read filtered another area, with exit 0 (``0089`` is
    no octal and stayed text). The YAML reader keeps the text as written (``written``, an int subclass of
    :mod:`gateway.kernel.yamlfile`)."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in rewritten_numbers(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in rewritten_numbers(item, f"{path}[{index}]")]
    written = getattr(value, "written", None) if isinstance(value, int) else None
    if isinstance(written, str):
        return [f"{path}: {written} is read by YAML as the number {int(value)}: quote it ('{written}') to send "
                f"what is written"]
    return []


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
        self._values: set[str] = set()

    def mask_secrets(self, *names: str) -> None:
        """Mask these secrets too wherever an error quotes them (the auth's: a gateway that refuses an API key
        often echoes it). Names that are not set are ignored (the auth reports them itself)."""
        self._used.update(name for name in names if self._secrets.get(name))

    def mask_value(self, value: str | None) -> None:
        """Mask a secret that is not among the system's secrets: an access token fetched at run time, the
        password of ``user:password@`` in an endpoint."""
        if value:
            self._values.add(value)

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
        """``text`` with the value of every secret a parameter referenced, every secret given to
        :meth:`mask_secrets` and every value given to :meth:`mask_value` masked (a server may echo them)."""
        values = {self._secrets.get(name) or "" for name in self._used} | self._values
        # as written, and as a URL, a form or a repr write it: a query secret in a signed string or an error page
        # that echoes the URL arrives percent-encoded (eyJhbGci%2BOiJ…), one with a line break repr-escaped
        forms = {form for secret in values if len(secret) >= 3
                 for form in (secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1])}
        for secret in sorted(forms, key=len, reverse=True):  # longest first: a secret inside another
            text = text.replace(secret, _MASK)
        return text

    def redact_error(self, exc: BaseException) -> None:
        """Mask the secrets in an exception's message, in place."""
        if (self._used or self._values) and exc.args and isinstance(exc.args[0], str):
            exc.args = (self.redact(exc.args[0]), *exc.args[1:])


def secret_names(config: object | None) -> list[str]:
    """The secret names a config refers to, sorted: the values of its fields named ``secret`` or ``*_secret``
    (``api_key``, ``client_secret_secret``, ``wsse.password_secret``...) and of ``{secret: NAME}`` references, at
    any depth — so that a new auth kind is masked without a list to keep up to date. (It read only the top level:
    the secret of a token auth's ``sign`` and of its token request's ``fields`` went unmasked into error
    messages, the signed string quoted with the secret in it.) ``config``: a model, a mapping, or None."""

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, BaseModel):
            node = dict(node)
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(value, str) and isinstance(key, str) and (key == "secret" or key.endswith("_secret")):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                yield from walk(item)

    return sorted(set(walk(config)))


def secrets_of_files(files: list[Path], name: str) -> list[str]:
    """The secret names the connector YAML among ``files`` (``<name>.yaml`` in a ``connectors`` folder, as the
    scaffolds write it) refers to: what a scaffold's caller tells the engineer to set."""
    import yaml

    found = [p for p in files if p.name == f"{name}.yaml" and p.parent.name == "connectors"]
    return secret_names(yaml.safe_load(found[0].read_text(encoding="utf-8"))) if found else []


def url_password(url: str | None) -> str | None:
    """The password of ``user:password@`` in a URL, if any (to be masked: requests sends it as Basic auth, and
    an error may quote it)."""
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


@contextmanager
def masked(secret_params: SecretParams) -> Iterator[None]:
    """Mask referenced secrets in any error raised inside the block (the connector's reads, writes, check)."""
    try:
        yield
    except Exception as exc:
        secret_params.redact_error(exc)
        raise


__all__ = [
    "REF_KEY",
    "SecretParams",
    "is_secret_ref",
    "literal_template_problems",
    "masked",
    "rewritten_numbers",
    "secret_names",
    "secret_refs",
    "url_password",
]
