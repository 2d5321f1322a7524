"""Personal data at rest and in answers: sealed ID numbers, a keyed blind index, masking, log redaction.

- :meth:`PiiCodec.seal` turns an ID number into ``enc:v1:<kid>:<base64 nonce‖ciphertext>`` (AES-GCM, or SM4-GCM
  as an option; the kid names the key so rotation can read old values). A JSON string stays a JSON string, so
  sealed documents keep their shape. Equal plaintexts sealed by one process may share a ciphertext (a bounded
  cache): that tells no more than the blind index does, and it keeps the sync path fast.
- :meth:`PiiCodec.seal_blob` seals a whole raw payload once (one AES-GCM call over the JSON text, which costs
  about as much as sealing one field): every identifying field a source sends is covered, including ones no
  mapping names.
- :meth:`PiiCodec.seal_file` seals a binary file (an issuer's certificate file, holders' names and numbers inside)
  as ``encf:v1:<kid>:<base64 nonce‖ciphertext‖tag>``: the bytes themselves, so a sealed file costs the base64 of
  the file plus about 40 characters and the key id, not the base64 of its base64.
- :meth:`PiiCodec.bidx` is HMAC-SHA256 of the normalised value under its own key: equality lookups (which
  certificates does this holder have, does this case name this holder) without decrypting anything.
- :func:`mask` shows ``110***********1234``; :class:`RedactingFilter` masks ID numbers in every log line.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import logging
import os
import re
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import KID_REFUSED_CHARS, GatewayKeys
from gateway.models.identifiers import IdentifierError, validate_resident_id

__all__ = ["SEALED_FIELD", "SEALED_WHOLE", "DamagedSeal", "PiiCodec", "has_seal_shape", "RedactingFilter", "codec_from_env", "open_text", "seal_text", "install_log_redaction", "mask", "normalize_id", "redact",
           "redact_document"]

FIELD_PREFIX = "enc:v1:"
BLOB_PREFIX = "encb:v1:"
FILE_PREFIX = "encf:v1:"
WHOLE_PREFIXES = (BLOB_PREFIX, FILE_PREFIX)
"""Prefixes of a value sealed whole (a payload, a file), as opposed to ID-number fields inside a document."""
_CACHE_MAX = 200_000
_SEAL_OVERHEAD = 28
"""Bytes every sealed value carries besides its text: a 12-byte nonce and a 16-byte tag."""
_SEAL_BODY = rf"[A-Za-z0-9+/]{{{-(-_SEAL_OVERHEAD * 4 // 3)},}}={{0,2}}"  # base64 of at least the overhead: 38 chars
_SEAL_KID = rf"[^{KID_REFUSED_CHARS}]+"  # any kid the key file may name (keys.KID_REFUSED: what it may not)
SEALED_FIELD = re.compile(rf"{re.escape(FIELD_PREFIX)}({_SEAL_KID}):{_SEAL_BODY}")
"""A sealed field, whole or inside a stored document (group 1: its key id). The one measure of a seal's *shape*:
what the codec passes through under a key it lacks and what rotation reseals or counts, so the two stay in step.
Text that only starts like one (``enc:v1:see:attachment``) is no seal."""
SEALED_WHOLE = re.compile(rf"(?:{re.escape(BLOB_PREFIX)}|{re.escape(FILE_PREFIX)})({_SEAL_KID}):{_SEAL_BODY}")
"""A payload or file sealed whole, by the same measure (a complaint that starts ``encb:v1:`` is text)."""
_D = "[0-9０-９]"
_BIRTH = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # MMDD
_ID_PATTERN = re.compile(
    rf"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])(?:{_D}{{17}}[0-9Xx０-９Ｘｘ]|{_D}{{15}})(?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"
    # glued to a label (ID370102…, 身份证号码 in pinyin initials): only what reads as a resident ID, so that a
    # work-order or licence number after its letters (GD202412010000012345) is left alone
    rf"|(?<=[A-Za-z])[1-8]\d{{5}}(?:(?:19|20)\d{{2}}{_BIRTH}\d{{3}}[0-9Xx]|\d{{2}}{_BIRTH}\d{{3}})(?![0-9A-Za-z])")
"""A resident ID (18 or 15 digits), ASCII or full width, never digits inside a longer run (a 21-digit case number)
nor a number followed by letters (a USCC's digits); right after letters only when it reads as one (a division
code, then a real month and day)."""


def _unbase64(data: str, kid: str) -> bytes:
    """The body of a sealed text value; :class:`DamagedSeal` when it is not base64 (damaged, cut, hand-edited)."""
    try:
        return base64.b64decode(data, validate=True)
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        raise DamagedSeal(f"sealed value under key {kid!r} is not base64: damaged") from None


def _text(data: bytes, kid: str) -> str:
    """An opened value as text; :class:`DamagedSeal` when it is not UTF-8 (Tongban seals only text there)."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise DamagedSeal(f"value sealed under key {kid!r} opens to bytes that are no text") from None


def normalize_id(value: str) -> str:
    """The form the blind index is computed on: NFKC, no spaces nor invisible format characters (a zero-width space
    copied with the number filed the request under a blind index no holder reads), upper case, and a 15-digit
    resident ID as its
    18-digit form (GB 11643: the ledger and the library store the converted number, a caller may send either),
    so that every blind index of one person is one value. Fifteen digits that are no resident ID (no real birth
    date in them: an old 注册号, say) stay as they are."""
    if not value.isascii():  # format characters (U+200B, U+2060, U+FEFF …) are invisible, and no part of a number
        text = unicodedata.normalize("NFKC", value)
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    else:
        text = value
    text = "".join(text.split()).upper()
    if len(text) == 15 and text.isdigit():
        try:
            return validate_resident_id(text)[0]
        except IdentifierError:
            return text
    return text


def mask(value: str | None) -> str | None:
    """``110105198506011234`` → ``110***********1234``; short values keep one character at each end."""
    if value is None:
        return None
    if len(value) >= 8:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if len(value) >= 3:
        return value[0] + "*" * (len(value) - 2) + value[-1]
    return "*" * len(value)


_PHONE_PATTERN = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")
_NAME_PATTERN = re.compile(
    r"""((?<![\w])\w*(?:name|xm|xingming|lxr|姓名|申请人|联系人)["']?\s*[:=：]\s*["']?)"""
    r"([\u3400-\u9fff\U00020000-\U0003134f·]{2,8})", re.IGNORECASE)
"""A key that *ends* in a name word (``sqrxm``, ``applicantName``, ``姓名``; not ``sxmc`` 事项名称), its value."""


def redact(text: str) -> str:
    """Mask personal data in free text (log lines, stored errors, excerpts of response bodies): every
    resident-ID-shaped number (18 or 15 digits), every mobile number, and a Chinese name that follows a name-like
    key (``"sqrxm":"张三"`` → ``"sqrxm":"张*"``)."""
    return _NAME_PATTERN.sub(lambda m: m.group(1) + _mask_name(m.group(2)), _mask_numbers(text))


def _mask_numbers(text: str) -> str:
    """Every resident-ID-shaped number and every mobile number in ``text``, masked."""
    text = _ID_PATTERN.sub(lambda m: mask(m.group(0)) or "", text)
    return _PHONE_PATTERN.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def _mask_name(name: str) -> str:
    """``王秀英`` → ``王**``: the surname kept."""
    return name[0] + "*" * (len(name) - 1)


_PERSON_KEY = re.compile(r"(?:name|xm|xingming|lxr|姓名|申请人|联系人|代理人|法定代表人|authori[sz]ed_?by|handler)$",
                         re.IGNORECASE)
_NOT_A_PERSON = re.compile(r"item|sx|dept|bm|org|jg|company|corp|qy|unit|dw|office|file|seal|事项|部门|机构|单位|企业|印章|"
                           r"公司|材料|证照|cert|zz|licen|material|step|node|stage|task|project|catalog|form|doc|type|"
                           r"kind|status|result|area|region|street|place|bank|product|event|process|flow|action|环节|"
                           r"节点|文件|地区|区划", re.IGNORECASE)
"""Words in a key that make its ``…name`` a thing's: ``itemName``, ``certName`` (证照名称), ``stepName``, ``fileName``."""


_PUBLIC_OBJECTS = frozenset({
    "item", "items", "service", "matter", "dept", "depts", "department", "org", "organ", "organization",
    "organisation", "company", "corp", "corporation", "enterprise", "unit", "office", "agency", "authority",
    "sx", "sxxx", "bm", "bmxx", "jg", "jgxx", "qy", "qyxx", "dw", "dwxx", "sldw", "sldd", "slbm", "blbm", "swjg",
    "事项", "部门", "机构", "单位", "企业", "公司"})
"""Keys of objects whose ``name`` is public (an item's, a department's, a company's): the whole key, compared in
lower case — ``companyContact``, ``qyfddbr`` (企业法定代表人) or ``dwjbr`` (单位经办人) hold a *person*."""

_PERSON_OBJECT = re.compile(
    r"applicant|agent|proxy|contact|person|people|holder|citizen|user|member|family|guardian|spouse|child|elder|"
    r"legal|representative|owner|signer|handler|operator|staff|clerk|sqr|dlr|lxr|jbr|fddbr|fr$|qlr|ywr|jtcy|"
    r"申请|代理|代办|联系|经办|法定代表|法人|持证|权利人|义务人|家庭|成员|监护|老人|人$", re.IGNORECASE)
"""Keys of objects (or lists of them) whose bare ``name`` is a person's: ``applicant``, ``agents``, ``companyContact``,
``qyfddbr``, ``jtcy`` (家庭成员). Any other object's bare ``name`` — a step's (受理), a material's, an event's — is a
thing's: masked as a person's, every 受理 in the record's opinions became 受* and the record could not be read."""


def _person_name_key(key: str, parent: str) -> bool:
    """Whether a value under ``key`` (in an object under ``parent``) is a person's name: ``sqrxm``,
    ``applicant.name``, ``authorised_by``, ``companyContact.name``, a record's own top-level ``name`` — but not
    ``itemName``, ``certName``, the ``name`` of an ``item``, ``dept`` or ``company`` object, nor the ``name`` of a
    step or a material (an object under a key that names no person)."""
    if not _PERSON_KEY.search(key) or _NOT_A_PERSON.search(key):
        return False
    if key.lower() != "name":
        return True
    return parent == "" or (parent.lower() not in _PUBLIC_OBJECTS and bool(_PERSON_OBJECT.search(parent)))


_ADDRESS_KEY = re.compile(r"(?:address|addr|dz|住址|地址|住所)$", re.IGNORECASE)
_ADDRESS_KEPT = 6
_RECORD_NUMBER_KEY = re.compile(
    r"^(?:bjbh|slbh|sbbh|gdbh|jdbh|ywlsh|lsh|sxbm|办件编号|受理编号|申报编号|工单编号|业务流水号|流水号)$"
    r"|^(?:case|order|apply|application|serial|business|flow|receipt|work_?order)_?(?:no|num|number|code)$",
    re.IGNORECASE)
"""Keys whose value is a record's own number — a case's 办件编号, a 12345 order's 工单编号, a 流水号 — never a
person's: an 18-digit one (division + date + sequence) is ID-shaped and was masked, so ``tongban cases show``
printed the case's own number as ``370***********0005``. Only whole keys of that vocabulary: ``zjbh`` (证件编号)
or ``idCardNo`` are a person's."""


def redact_document(text: str) -> str:
    """Mask personal data in a JSON document (a dead letter's raw input) by what each field is, not by a pattern
    over the whole text: a person's name under a person-name key (``sqrxm``, ``applicantName``, ``联系人``; not
    ``itemName``, ``deptName``, ``companyName``, which are public) becomes ``王**`` — and so does every other
    occurrence of that name in the record (a summary that repeats it); an address keeps its first six
    characters (the district); ID and mobile numbers are masked in every string (and an ID-shaped JSON number),
    except the value of a record-number key (``bjbh``, ``case_no``, ``gdbh``: a case's or an order's own number,
    which an 18-digit numbering makes ID-shaped). A JSON string holding a JSON
    document (how the readers keep a record they refused: the text as it came) is that document. Text that is not
    JSON gets :func:`redact`."""
    try:
        document = json.loads(text)
    except ValueError:
        return redact(text)
    if isinstance(document, str):  # a record a connector refused is kept as the JSON text it came as
        try:
            inner = json.loads(document)
        except ValueError:
            return redact(document)
        if not isinstance(inner, dict | list):
            return redact(document)
        document = inner
    names: set[str] = set()

    def collect(value: Any, key: str = "", parent: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                collect(v, str(k), key)
        elif isinstance(value, list):
            for v in value:
                collect(v, key, parent)
        elif isinstance(value, str) and _person_name_key(key, parent):
            if len(value.strip()) >= 2:
                names.add(value.strip())

    collect(document)
    ordered = sorted(names, key=len, reverse=True)  # the longest first: 王秀英 before a 王秀 it contains

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, key) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and not _RECORD_NUMBER_KEY.search(key):
            masked = _mask_numbers(str(value))  # an ID number sent as a JSON number is an ID number all the same
            return masked if masked != str(value) else value
        if not isinstance(value, str):
            return value
        if _RECORD_NUMBER_KEY.search(key) and value.strip().isalnum():
            return value
        if _ADDRESS_KEY.search(key) and len(value) > _ADDRESS_KEPT:
            return value[:_ADDRESS_KEPT] + "*" * (len(value) - _ADDRESS_KEPT)
        for name in ordered:
            value = value.replace(name, _mask_name(name))
        return _mask_numbers(value)

    return json.dumps(clean(document), ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Masks ID numbers, phones and names (:func:`redact`) in log records (message and arguments) before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(names: tuple[str, ...] = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "gateway",
                                                     "httpx", "sqlalchemy.engine")) -> None:
    """Put the redacting filter on the named loggers, on their handlers, and on Python's last-resort handler.

    A logger's own filter sees only what is logged on it, not what its children (``gateway.audit``) pass up; a
    handler's sees everything it writes. With no handler configured (``tongban serve`` before uvicorn sets up its
    own), a warning goes to ``logging.lastResort``, which had no filter: an ID number in it reached stderr."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    last = logging.lastResort
    if last is not None and _FILTER not in last.filters:
        last.addFilter(_FILTER)


class DamagedSeal(ConfigError):
    """A sealed value that does not authenticate under its key: damaged or tampered with — not a key missing from the
    key file (a :class:`ConfigError` too, so that every reader that stops on an unreadable seal stops on this)."""


def has_seal_shape(value: str) -> bool:
    """Whether ``value`` is shaped like one sealed value (a field, a payload or a file) — prefix, a key id the key
    file may name, a base64 body long enough for a nonce and a tag — whether or not this process holds its key."""
    return (SEALED_FIELD if value.startswith(FIELD_PREFIX) else SEALED_WHOLE).fullmatch(value) is not None


class PiiCodec:
    """Seal, open and index personal identifiers with the keys of :class:`GatewayKeys`."""

    def __init__(self, keys: GatewayKeys) -> None:
        self.keys = keys
        self.cipher = keys.pii_cipher
        if self.cipher not in ("AES-GCM", "SM4-GCM"):
            raise ConfigError(f"pii_cipher must be AES-GCM or SM4-GCM, not {self.cipher!r}")
        self.current = keys.pii_current
        self._aead = {kid: AESGCM(key) for kid, key in keys.pii_keys.items()} if self.cipher == "AES-GCM" else {}
        self._bidx_key = keys.blind_index_key
        self._cache: dict[str, str] = {}
        """Plain value -> its sealed form, so that sealing the same ID twice gives the same text (and costs once)."""
        self._open_sealed = functools.lru_cache(maxsize=_CACHE_MAX)(self._open_field)
        """Sealed field -> plain value: the gateway opens the same holders' IDs on every release."""

    # -- primitives ----------------------------------------------------------------------------------------
    def _encrypt(self, data: bytes, kid: str) -> bytes:
        nonce = os.urandom(12)
        if self.cipher == "AES-GCM":
            return nonce + self._aead[kid].encrypt(nonce, data, kid.encode())
        enc = Cipher(algorithms.SM4(self.keys.pii_keys[kid]), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(kid.encode())
        body = enc.update(data) + enc.finalize()
        return nonce + body + enc.tag

    def _decrypt(self, blob: bytes, kid: str) -> bytes:
        if kid not in self.keys.pii_keys:
            raise ConfigError(f"sealed with key {kid!r}, which is not among the configured PII keys")
        nonce, body = blob[:12], blob[12:]
        if len(nonce) < 12 or len(body) < 16:  # cut short: AES-GCM and SM4-GCM each raised their own ValueError
            raise DamagedSeal(f"sealed value under key {kid!r} is cut short ({len(blob)} bytes)")
        try:
            if self.cipher == "AES-GCM":
                return self._aead[kid].decrypt(nonce, body, kid.encode())
            dec = Cipher(algorithms.SM4(self.keys.pii_keys[kid]), modes.GCM(nonce, body[-16:])).decryptor()
            dec.authenticate_additional_data(kid.encode())
            return dec.update(body[:-16]) + dec.finalize()
        except InvalidTag:
            raise DamagedSeal(f"sealed value does not authenticate under key {kid!r}") from None

    def _already_sealed(self, value: str, prefix: str, read: Any) -> bool:
        """Whether ``value``, which starts like a seal, is one: it opens under a configured key (authenticated), or
        — under a key this process does not hold (a rotation rolling out: the key file was rewritten, this process
        not yet restarted) — it has a seal's shape. Text that merely starts like a seal (a citizen's complaint, an
        ID number of a foreign document, ``enc:v1:see:attachment``) is not passed through: it was stored in clear,
        failed every read and kept rotation from completing."""
        kid = value[len(prefix):].partition(":")[0]
        if kid and kid not in self.keys.pii_keys:
            return has_seal_shape(value)
        try:
            read(value)
        except (ConfigError, ValueError):
            return False
        return True

    # -- fields --------------------------------------------------------------------------------------------
    def seal(self, value: str) -> str:
        """``value`` sealed under the current key; a value already sealed (it opens) is returned as it is."""
        if value.startswith(FIELD_PREFIX) and self._already_sealed(value, FIELD_PREFIX, self._open_sealed):
            return value
        token = self._cache.get(value)
        if token is None:
            blob = self._encrypt(value.encode(), self.current)
            token = f"{FIELD_PREFIX}{self.current}:{base64.b64encode(blob).decode()}"
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[value] = token
        return token

    def open(self, value: str) -> str:
        if not isinstance(value, str) or not value.startswith(FIELD_PREFIX):
            return value
        return self._open_sealed(value)

    def _open_field(self, value: str) -> str:
        kid, _, data = value[len(FIELD_PREFIX):].partition(":")
        return _text(self._decrypt(_unbase64(data, kid), kid), kid)

    @staticmethod
    def is_sealed(value: Any) -> bool:
        return isinstance(value, str) and value.startswith((FIELD_PREFIX, *WHOLE_PREFIXES))

    @staticmethod
    def key_of(value: str) -> str | None:
        for prefix in (FIELD_PREFIX, *WHOLE_PREFIXES):
            if value.startswith(prefix):
                return value[len(prefix):].partition(":")[0]
        return None

    # -- whole payloads ------------------------------------------------------------------------------------
    def seal_blob(self, text: str) -> str:
        """``text`` sealed whole under the current key; text already sealed (it opens) is returned as it is."""
        if text.startswith(BLOB_PREFIX) and self._already_sealed(text, BLOB_PREFIX, self.open_blob):
            return text
        blob = self._encrypt(text.encode(), self.current)
        return f"{BLOB_PREFIX}{self.current}:{base64.b64encode(blob).decode()}"

    def open_blob(self, text: str) -> str:
        if not text.startswith(BLOB_PREFIX):
            return text
        kid, _, data = text[len(BLOB_PREFIX):].partition(":")
        return _text(self._decrypt(_unbase64(data, kid), kid), kid)

    def seal_file(self, content: bytes) -> str:
        """A file's bytes sealed under the current key, as text for a text column (``certificates.file``)."""
        blob = self._encrypt(content, self.current)
        return f"{FILE_PREFIX}{self.current}:{base64.b64encode(blob).decode()}"

    def open_file(self, text: str) -> bytes:
        """The inverse of :meth:`seal_file`; a file kept in clear (base64, as Tongban wrote it before files were
        sealed) is decoded as it is."""
        if not text.startswith(FILE_PREFIX):
            return base64.b64decode(text)
        kid, _, data = text[len(FILE_PREFIX):].partition(":")
        return self._decrypt(_unbase64(data, kid), kid)

    def seal_bytes(self, data: bytes) -> bytes:
        """Seal bytes under the current key, as bytes: ``len(kid) ‖ kid ‖ nonce ‖ ciphertext`` (no base64: for
        binary columns such as ``source_records.payload``)."""
        kid = self.current.encode()
        return bytes((len(kid),)) + kid + self._encrypt(data, self.current)

    def open_bytes(self, blob: bytes) -> bytes:
        """The inverse of :meth:`seal_bytes` (under whichever configured key sealed it)."""
        kid = self.key_of_bytes(blob)
        return self._decrypt(bytes(blob[1 + blob[0]:]), kid)

    @staticmethod
    def key_of_bytes(blob: bytes) -> str:
        """The key id a :meth:`seal_bytes` blob was sealed under (:class:`DamagedSeal` when none can be read)."""
        if len(blob) < 1 or len(blob) < 1 + blob[0]:
            raise DamagedSeal(f"sealed payload of {len(blob)} bytes is cut short before its key id")
        try:
            return bytes(blob[1:1 + blob[0]]).decode()
        except UnicodeDecodeError:
            raise DamagedSeal("sealed payload's key id is not text: the payload is damaged") from None

    def reseal(self, text: str) -> str:
        """Re-seal a value or blob under the current key (rotation); plain text is sealed as a blob."""
        if text.startswith(FIELD_PREFIX):
            return text if self.key_of(text) == self.current else self._seal_fresh(self.open(text))
        if text.startswith(BLOB_PREFIX):
            return text if self.key_of(text) == self.current else self.seal_blob(self.open_blob(text))
        if text.startswith(FILE_PREFIX):
            return text if self.key_of(text) == self.current else self.seal_file(self.open_file(text))
        return text

    def _seal_fresh(self, value: str) -> str:
        self._cache.pop(value, None)
        return self.seal(value)

    # -- blind index ---------------------------------------------------------------------------------------
    def bidx(self, value: str) -> str:
        # hmac.digest: the one-shot C implementation, several times cheaper than an hmac.new object (hot path)
        return hmac.digest(self._bidx_key, normalize_id(value).encode(), "sha256").hex()[:40]


def codec_from_env() -> PiiCodec | None:
    """The codec of the key file this process was given (``TONGBAN_KEY_FILE`` or ``TONGBAN_PII_KEYS``), or None:
    no keys, nothing sealed by this process."""
    keys = GatewayKeys.from_env()
    return PiiCodec(keys) if keys is not None else None


def seal_text(text: str | None, codec: PiiCodec | None) -> str | None:
    """Free text (a complaint, a comment, a queued message) as it is kept: sealed whole with ``codec``, as it is
    without one; empty and None stay as they are (nothing to hide, and ``''`` stays tellable from a value)."""
    return codec.seal_blob(text) if codec is not None and text else text


def open_text(text: str | None, codec: PiiCodec | None) -> str | None:
    """A stored payload in clear: sealed blobs need the codec (a clear error without keys)."""
    if text is None or not text.startswith(BLOB_PREFIX):
        return text
    if codec is None:
        raise ConfigError("this payload is sealed: set TONGBAN_KEY_FILE (or TONGBAN_PII_KEYS) to read it")
    return codec.open_blob(text)
