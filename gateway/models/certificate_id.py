"""GB/T 36904 electronic-certificate identifiers (电子证照标识).

``1.2.156.3005.2.<证照类型代码>.<颁发机构代码>.<流水号>.<版本号>.<校验位>``: an OID-style prefix, the type code
(the defining body's USCC + a 3-digit sequence), the issuer's USCC, a serial, a 3-digit version, and one
ISO 7064 MOD 37,36 check character over type + issuer + serial + version with the dots removed. The check
character catches a mistyped identifier before a library lookup that would otherwise just miss.

    >>> ident = certificate_identifier("11100000000013338W011", "91110000600037341L", "0001", 1)
    >>> parse_certificate_identifier(ident).serial
    '0001'
"""

from __future__ import annotations

import re
from typing import NamedTuple

from stdnum.iso7064 import mod_37_36

from .identifiers import IdentifierError

PREFIX = "1.2.156.3005.2"
_PART = re.compile(r"^[0-9A-Z]+$")
_ISSUER = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_FORMAT = "certificate_id.format"


class CertificateIdentifier(NamedTuple):
    """The parts of a parsed identifier (``version`` as its 3-digit text)."""

    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    def __str__(self) -> str:
        return ".".join((PREFIX, self.type_code, self.issuer_code, self.serial, self.version, self.check))


def _check_parts(type_code: str, issuer_code: str, serial: str, version: str) -> None:
    if not _PART.match(type_code):
        raise IdentifierError(_FORMAT, f"type code {type_code!r} must be upper-case letters and digits")
    if not _ISSUER.match(issuer_code):
        raise IdentifierError(_FORMAT, f"issuer code {issuer_code!r} must be an 18-character USCC")
    if not _PART.match(serial):
        raise IdentifierError(_FORMAT, f"serial {serial!r} must be upper-case letters and digits")
    if not (len(version) == 3 and version.isascii() and version.isdigit()):
        raise IdentifierError(_FORMAT, f"version {version!r} must be 3 digits")


def certificate_identifier(type_code: str, issuer_code: str, serial: str, version: int | str) -> str:
    """Build an identifier with its check character; ``version`` 1 becomes ``001``."""
    ver = f"{int(version):03d}" if isinstance(version, int) else version
    _check_parts(type_code, issuer_code, serial, ver)
    check = mod_37_36.calc_check_digit(type_code + issuer_code + serial + ver)
    return f"{PREFIX}.{type_code}.{issuer_code}.{serial}.{ver}.{check}"


def parse_certificate_identifier(value: str) -> CertificateIdentifier:
    """Split and verify an identifier: ``certificate_id.format`` or ``certificate_id.checksum`` on failure."""
    text = value.strip().upper()
    if not text.startswith(PREFIX + "."):
        raise IdentifierError("certificate_id.format", f"identifier must start with {PREFIX}.")
    parts = text[len(PREFIX) + 1 :].split(".")
    if len(parts) != 5:
        raise IdentifierError(
            "certificate_id.format", "identifier must have type, issuer, serial, version and check parts"
        )
    type_code, issuer_code, serial, version, check = parts
    _check_parts(type_code, issuer_code, serial, version)
    if len(check) != 1 or not _PART.match(check):
        raise IdentifierError("certificate_id.format", f"check part {check!r} must be one letter or digit")
    expected = mod_37_36.calc_check_digit(type_code + issuer_code + serial + version)
    if check != expected:
        raise IdentifierError("certificate_id.checksum", f"check character is {check}, expected {expected}")
    return CertificateIdentifier(type_code, issuer_code, serial, version, check)


__all__ = ["PREFIX", "CertificateIdentifier", "certificate_identifier", "parse_certificate_identifier"]
