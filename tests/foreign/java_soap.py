"""Real third-party SOAP stacks, from Debian's packages, serving case records the tests know exactly.

Three stand-ins for foreign department systems, each a small Java program under ``tests/foreign/java/``:

=========  =====================================================================================================
``jaxws``  JAX-WS RI 2.3 (``libjaxws-java``), ``javax.xml.ws.Endpoint`` on the JDK's HTTP server;
           document/literal wrapped; the live ``?wsdl`` imports its schema from ``?xsd=1``
``axis``   Apache Axis 1.4 (``libaxis-java``) as ``AxisServlet`` in an embedded Jetty 9 (``libjetty9-java``);
           rpc/encoded, a ``soapenc:Array`` of beans, answers full of ``multiRef``/``href``
``wss``    JAX-WS RI again, with Apache WSS4J 1.6 (``libwss4j-java``) enforcing a WS-Security UsernameToken
           (PasswordDigest by default) the way CXF's WSS4JInInterceptor does; Debian ships no CXF
=========  =====================================================================================================

All three answer ``queryCases(updatedSince, pageNo, pageSize)``: the records with ``updateTime >=
updatedSince`` (all when it is absent), ordered by ``(updateTime, id)``, page ``pageNo`` (from 1) of
``pageSize``, with the ``total`` that match. The records come from a TSV file this module writes
(:func:`generate_records`, :func:`write_records_tsv`), so a test computes the expected answer itself
(:func:`expected_page`).

    records = generate_records()
    write_records_tsv(records, path)
    with start_service("axis", path, records=records) as service:
        requests.get(service.wsdl_url)

:func:`prepare` installs the Debian packages when their jars are missing (as root, with apt-get), and
compiles the Java sources once into ``.tongban/java-build/<hash of the sources>/`` (``wsgen`` makes the JAX-WS
wrapper classes: Debian's jaxws-rt cannot make them at run time, it lacks the shaded ASM it refers to).
:class:`JavaUnavailable` says why the stacks cannot be had (no Java, or the install failed); ``conftest.py``
turns it into a skip, or a failure under ``CI=true`` when Java is there.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
JAVA_SOURCES = HERE / "java"
REPO = HERE.parent.parent
JARS = Path(os.environ.get("TONGBAN_JAVA_JARS", "/usr/share/java"))
BUILD_ROOT = Path(os.environ.get("TONGBAN_JAVA_BUILD_DIR", str(REPO / ".tongban" / "java-build")))
START_TIMEOUT = float(os.environ.get("TONGBAN_JAVA_START_TIMEOUT", "120"))
CST = timezone(timedelta(hours=8))

# The Debian package that ships each jar this harness puts on a classpath (all are in Debian 12 "bookworm").
JAR_PACKAGES: dict[str, str] = {
    # JAX-WS RI and what it needs (jaxws-rt.jar's manifest Class-Path names the rest of its dependencies)
    "jaxws-rt.jar": "libjaxws-java",
    "jaxws-tools.jar": "libjaxws-java",
    "jaxws-api.jar": "libjaxws-api-java",
    "jws-api.jar": "libjws-api-java",
    "jaxb-api.jar": "libjaxb-api-java",
    "jaxb-runtime.jar": "libjaxb-java",
    "jaxb-xjc.jar": "libjaxb-java",
    "jaxb-jxc.jar": "libjaxb-java",
    "istack-commons-runtime.jar": "libistack-commons-java",
    "istack-commons-tools.jar": "libistack-commons-java",
    "javax.xml.soap-api.jar": "libsaaj-java",
    "saaj-impl.jar": "libsaaj-ri-java",
    "javax.activation.jar": "libactivation-java",
    # WSS4J
    "wss4j.jar": "libwss4j-java",
    "xmlsec.jar": "libxml-security-java",
    "commons-logging.jar": "libcommons-logging-java",
    "slf4j-api.jar": "libslf4j-java",
    "slf4j-nop.jar": "libslf4j-java",
    # Axis 1.4 on Jetty 9
    "axis.jar": "libaxis-java",
    "axis-jaxrpc.jar": "libaxis-java",
    "axis-saaj.jar": "libaxis-java",
    "commons-discovery.jar": "libcommons-discovery-java",
    "wsdl4j.jar": "libwsdl4j-java",
    "javax.mail.jar": "libmail-java",
    "jetty9-server.jar": "libjetty9-java",
    "jetty9-servlet.jar": "libjetty9-java",
    "jetty9-http.jar": "libjetty9-java",
    "jetty9-io.jar": "libjetty9-java",
    "jetty9-util.jar": "libjetty9-java",
    "jetty9-security.jar": "libjetty9-java",
    "servlet-api.jar": "libservlet-api-java",
}
DEBIAN_PACKAGES = ("libjaxws-java", "libaxis-java", "libjetty9-java", "libwss4j-java")
"""What ``apt-get install`` is asked for (the rest comes as their dependencies); see :data:`JAR_PACKAGES`."""

_JAXWS = ["jaxws-rt.jar", "jaxws-api.jar", "jws-api.jar", "jaxb-api.jar", "jaxb-runtime.jar",
          "istack-commons-runtime.jar", "javax.xml.soap-api.jar", "saaj-impl.jar", "javax.activation.jar"]
_WSGEN = ["jaxws-tools.jar", "jaxb-xjc.jar", "jaxb-jxc.jar", "istack-commons-tools.jar"]
_WSS4J = ["wss4j.jar", "xmlsec.jar", "commons-logging.jar", "slf4j-api.jar", "slf4j-nop.jar"]
_AXIS = ["axis.jar", "axis-jaxrpc.jar", "axis-saaj.jar", "commons-logging.jar", "commons-discovery.jar",
         "wsdl4j.jar", "javax.activation.jar", "javax.mail.jar", "jaxb-api.jar",
         "jws-api.jar",  # common/ (compiled for every kind) holds the JAX-WS services' annotated CaseQueries
         "jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar", "jetty9-io.jar", "jetty9-util.jar",
         "jetty9-security.jar", "servlet-api.jar"]


@dataclass(frozen=True)
class Kind:
    """One foreign service: how it is compiled, started and addressed."""

    name: str
    sources: tuple[str, ...]  # folders under java/
    jars: tuple[str, ...]
    main: str
    wsgen: str | None  # the @WebService class whose wrapper beans wsgen makes
    path: str  # the service's path on the server
    namespace: str
    service: str
    port: str


KINDS: dict[str, Kind] = {
    "jaxws": Kind("jaxws", ("common", "jaxws"), tuple(_JAXWS), "tongban.foreign.jaxws.JaxwsMain",
                  "tongban.foreign.jaxws.CaseQuery", "/ws/CaseQueryService", "http://jaxws.foreign.tongban/",
                  "CaseQueryService", "CaseQueryPort"),
    "axis": Kind("axis", ("common", "axis"), tuple(_AXIS), "tongban.foreign.axis.AxisMain", None,
                 "/axis/services/CaseQueryService", "urn:tongban:foreign:axis:cases", "CaseQueryServiceService",
                 "CaseQueryService"),
    "wss": Kind("wss", ("common", "wss"), tuple(_JAXWS + _WSS4J), "tongban.foreign.wss.WssMain",
                "tongban.foreign.wss.SecureCaseQuery", "/ws/SecureCaseQueryService", "http://wss.foreign.tongban/",
                "SecureCaseQueryService", "SecureCaseQueryPort"),
}

WSS_USERNAME = "tongban-sync"
WSS_PASSWORD = "Tb#2024-密码"


class JavaUnavailable(Exception):
    """The Java SOAP stacks cannot be had here: no Java, or the Debian packages could not be installed.

    ``java_missing`` tells the two apart (a missing JDK is always a skip; a failed install fails under CI)."""

    def __init__(self, message: str, *, java_missing: bool = False) -> None:
        super().__init__(message)
        self.java_missing = java_missing


class JavaHarnessError(RuntimeError):
    """A stack that is installed did not compile, start or answer: always a failure, never a skip."""


# -- the records -------------------------------------------------------------------------------------------------

FIELDS = ("id", "caseNo", "itemCode", "itemName", "applicantName", "idNumber", "status", "acceptTime",
          "finishTime", "updateTime")
STATUSES = {"01": "已受理", "02": "办理中", "03": "已办结", "04": "不予受理", "05": "已退回"}
ITEMS = (
    ("370100-XK-0001", "企业设立登记"),
    ("370100-XK-0002", "食品经营许可"),
    ("370100-QR-0003", "不动产登记（首次登记）"),
    ("370100-GF-0004", "社会保障卡申领"),
    ("370100-XK-0005", "建设工程规划许可证核发"),
    ("370100-QT-0006", "居住证办理"),
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华玉兰海燕晓东红梅志强国庆淑珍"
_RARE_NAMES = ("李䶮", "王𠮷", "张喆", "陶犇", "冯䶮华", "阿卜杜·热合曼", "马𠮷祥", "欧阳娜娜")
"""Names that test the text path: CJK extension A (䶮), outside the BMP (𠮷 U+20BB7), a middle dot."""
_REGIONS = ("370102", "370103", "370104", "370105", "370112", "370113")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random) -> str:
    """A well-formed 18-digit resident ID number (GB 11643 check digit; 'X' for 10)."""
    born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{rng.choice(_REGIONS)}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    return body + check


def _ceil(moment: datetime, minutes: int) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % minutes, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=minutes)


def generate_records(count: int = 1500, seed: int = 20240301) -> list[dict[str, Any]]:
    """Deterministic case records, as dicts keyed like the Java bean properties (:data:`FIELDS`).

    Times are aware datetimes in +08:00 on whole minutes; ``updateTime`` is rounded up to the half hour, so many
    records share one; a batch job gave 39 records (with the defaults) ``2024-03-15T18:00:00+08:00``. ``finishTime`` is set for
    statuses 03 (已办结) and 04 (不予受理) only. ``id`` follows ``caseNo``'s order, so ordering by
    ``(updateTime, id)`` is also ordering by ``(updateTime, caseNo)``."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 2, tzinfo=CST)
    batch = datetime(2024, 3, 15, 18, 0, tzinfo=CST)
    drafts: list[dict[str, Any]] = []
    used: set[str] = set()
    for n in range(count):
        accept = base + timedelta(days=rng.randrange(0, 80), hours=rng.randrange(8, 18), minutes=rng.randrange(60))
        status = rng.choices(list(STATUSES), weights=(25, 25, 35, 10, 5))[0]
        finish = accept + timedelta(minutes=rng.randrange(60, 15 * 24 * 60)) if status in ("03", "04") else None
        touched = finish or accept + timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
        update = _ceil(touched, 30)
        if n % 37 == 5 and accept < batch and (finish is None or finish <= batch):
            update = batch
        while True:
            case_no = f"{rng.choice(_REGIONS)}{accept:%Y%m%d}{rng.randrange(0, 1_000_000):06d}"
            if case_no not in used:
                used.add(case_no)
                break
        if n % 97 == 3:
            name = _RARE_NAMES[(n // 97) % len(_RARE_NAMES)]
        else:
            name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        code, item = rng.choice(ITEMS)
        drafts.append({"caseNo": case_no, "itemCode": code, "itemName": item, "applicantName": name,
                       "idNumber": id_number(rng), "status": status, "acceptTime": accept, "finishTime": finish,
                       "updateTime": update})
    drafts.sort(key=lambda r: r["caseNo"])
    return [{"id": k, **r} for k, r in enumerate(drafts, start=1)]


def _tsv_field(value: Any) -> str:
    if value is None:
        return "\\N"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if "\t" in text or "\n" in text or "\r" in text or text == "\\N":
        raise ValueError(f"cannot write {text!r} to the records TSV")
    return text


def write_records_tsv(records: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """The records as the Java programs read them: UTF-8, a header line, tab-separated, ``\\N`` for null."""
    lines = ["\t".join(FIELDS)] + ["\t".join(_tsv_field(r[f]) for f in FIELDS) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ordered(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The services' order: by ``(updateTime, id)``."""
    return sorted(records, key=lambda r: (r["updateTime"], r["id"]))


def expected_page(records: Iterable[Mapping[str, Any]], updated_since: datetime | None, page_no: int,
                  page_size: int) -> tuple[int, list[Mapping[str, Any]]]:
    """What every service answers to ``queryCases(updated_since, page_no, page_size)``: (total, page)."""
    matching = [r for r in ordered(records) if updated_since is None or r["updateTime"] >= updated_since]
    start = (page_no - 1) * page_size
    return len(matching), matching[start:start + page_size]


# -- installing and building -------------------------------------------------------------------------------------


def java_tools() -> tuple[str, str]:
    """(java, javac) from PATH, or :class:`JavaUnavailable` (``java_missing``)."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        missing = " and ".join(name for name, path in (("java", java), ("javac", javac)) if path is None)
        raise JavaUnavailable(f"the Java SOAP stacks need a JDK: {missing} not found on PATH "
                              f"(Debian: apt-get install openjdk-17-jdk-headless)", java_missing=True)
    return java, javac


def missing_jars() -> list[str]:
    return sorted(jar for jar in JAR_PACKAGES if not (JARS / jar).exists())


def _run(command: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                          check=False)


def ensure_packages() -> list[str]:
    """Install the Debian packages whose jars are missing; returns the packages installed (none: all there).

    Runs ``apt-get install -y --no-install-recommends`` (and ``apt-get update`` once if that fails) as root;
    anything else that stops it raises :class:`JavaUnavailable` saying what to install."""
    java_tools()
    missing = missing_jars()
    if not missing:
        return []
    packages = sorted({JAR_PACKAGES[jar] for jar in missing} | set(DEBIAN_PACKAGES))
    wanted = f"apt-get install -y --no-install-recommends {' '.join(packages)}"
    if shutil.which("apt-get") is None:
        raise JavaUnavailable(f"jars missing from {JARS}: {', '.join(missing)}; no apt-get here to run `{wanted}`")
    if os.geteuid() != 0:
        raise JavaUnavailable(f"jars missing from {JARS}: {', '.join(missing)}; not root, so cannot run `{wanted}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    try:
        done = _run(command, timeout=900, env=env)
        if done.returncode != 0:
            _run(["apt-get", "update"], timeout=600, env=env)
            done = _run(command, timeout=900, env=env)
    except subprocess.TimeoutExpired as exc:
        raise JavaUnavailable(f"`{wanted}` did not finish in {exc.timeout:.0f} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise JavaUnavailable(f"`{wanted}` failed (exit {done.returncode}):\n{tail}")
    still = missing_jars()
    if still:
        raise JavaUnavailable(f"`{wanted}` succeeded but these jars are still missing from {JARS}: {', '.join(still)}")
    return packages


def classpath(jars: Iterable[str], *extra: Path) -> str:
    return os.pathsep.join([*(str(p) for p in extra), *(str(JARS / jar) for jar in dict.fromkeys(jars))])


def source_hash(java: str = "java") -> str:
    """The build's key: every file under java/, the jar lists, and the JDK's version."""
    digest = hashlib.sha256()
    for path in sorted(JAVA_SOURCES.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(JAVA_SOURCES).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for kind in KINDS.values():
        digest.update(repr(kind).encode())
    version = _run([java, "-version"], timeout=120)
    digest.update((version.stdout + version.stderr).encode())
    return digest.hexdigest()[:16]


_BUILD_LOCK = threading.Lock()
_BUILT: dict[str, Path] = {}
_FAILED: list[JavaUnavailable] = []


def build(root: Path | None = None) -> Path:
    """Compile the three programs (javac, then wsgen for the JAX-WS ones) into ``root/<hash>/``, once.

    The result is reused while the sources are unchanged; a build is made in a temporary folder and renamed
    into place, so concurrent runs never see half of one."""
    java, javac = java_tools()
    root = root or BUILD_ROOT
    key = source_hash(java)
    with _BUILD_LOCK:
        target = root / key
        if (target / "BUILT").exists():
            return target
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            for kind in KINDS.values():
                classes = staging / kind.name / "classes"
                classes.mkdir(parents=True)
                sources = sorted(str(p) for folder in kind.sources for p in (JAVA_SOURCES / folder).rglob("*.java"))
                _checked([javac, "-encoding", "UTF-8", "-g", "-nowarn", "-proc:none", "-d", str(classes),
                          "-cp", classpath(kind.jars), *sources], f"javac ({kind.name})")
                if kind.wsgen:
                    tools = classpath([*_WSGEN, *kind.jars])
                    _checked([java, "-cp", tools, "com.sun.tools.ws.WsGen", "-cp", f"{classes}{os.pathsep}{tools}",
                              "-d", str(classes), kind.wsgen], f"wsgen ({kind.name})")
            webinf = staging / "axis" / "webroot" / "WEB-INF"
            webinf.mkdir(parents=True)
            shutil.copy(JAVA_SOURCES / "axis" / "server-config.wsdd", webinf / "server-config.wsdd")
            (staging / "BUILT").write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")
            try:
                staging.rename(target)
            except OSError:  # another run finished the same build first
                if not (target / "BUILT").exists():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target


def _checked(command: list[str], what: str) -> None:
    try:
        done = _run(command, timeout=600)
    except subprocess.TimeoutExpired:
        raise JavaHarnessError(f"{what} did not finish in 600 s") from None
    if done.returncode != 0:
        raise JavaHarnessError(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")


def prepare() -> Path:
    """Packages installed, sources compiled: the build folder. Done once per process."""
    cached = _BUILT.get("build")
    if cached is not None:
        return cached
    if _FAILED:
        raise _FAILED[0]
    try:
        ensure_packages()
    except JavaUnavailable as exc:
        _FAILED.append(exc)  # one apt-get attempt per process, not one per service
        raise
    built = build()
    _BUILT["build"] = built
    return built


# -- running -----------------------------------------------------------------------------------------------------


@dataclass
class JavaService:
    """A running foreign service. ``base_url`` is ``http://127.0.0.1:PORT``; the endpoint is ``endpoint_url``."""

    kind: str
    base_url: str
    path: str
    namespace: str
    service: str
    port_name: str
    records: list[dict[str, Any]]
    records_file: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    username: str | None = None
    password: str | None = None
    password_type: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    started_in: float = 0.0

    operation = "queryCases"

    @property
    def endpoint_url(self) -> str:
        return self.base_url + self.path

    @property
    def wsdl_url(self) -> str:
        return self.endpoint_url + "?wsdl"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_RUNNING: set[subprocess.Popen[bytes]] = set()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the service's process group: SIGTERM, then SIGKILL after 10 s."""
    _RUNNING.discard(process)
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=10)


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        _stop(process)


def _answers_wsdl(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # a 127.0.0.1 URL made here
            return response.status == 200 and b"definitions" in response.read()
    except (urllib.error.URLError, OSError):
        return False


def start_service(kind: str, records_file: Path, *, records: list[dict[str, Any]] | None = None,
                  username: str = WSS_USERNAME, password: str = WSS_PASSWORD, password_type: str = "PasswordDigest",
                  wss_options: Mapping[str, str] | None = None, log_dir: Path | None = None,
                  timeout: float = START_TIMEOUT) -> JavaService:
    """Start one service on 127.0.0.1 (a port the OS picks) and wait until its ``?wsdl`` answers.

    ``wss`` only: ``password_type`` (``PasswordDigest`` | ``PasswordText``, enforced strictly) and
    ``wss_options``, more WSS4J ``WSHandlerConstants`` options (e.g. ``{"action": "UsernameToken Timestamp"}``,
    which accepts a header written Timestamp first: WSS4J 1.6 lists what it found in reverse order).
    Raises :class:`JavaUnavailable` (cannot install) or :class:`JavaHarnessError` (does not start in time)."""
    spec = KINDS[kind]
    java, _ = java_tools()
    built = prepare()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="tongban-java-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{kind}.log"
    args = [str(records_file)]
    options: dict[str, str] = {}
    if kind == "axis":
        args.append(str(built / "axis" / "webroot"))
    elif kind == "wss":
        options = {"passwordType": password_type, "passwordTypeStrict": "true", **(wss_options or {})}
        args += [username, password, *(f"{k}={v}" for k, v in options.items())]
    command = [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
               "-Duser.timezone=Asia/Shanghai", "-Dfile.encoding=UTF-8",
               "-Dcom.sun.xml.ws.monitoring.endpoint=false",
               "-cp", classpath(spec.jars, built / kind / "classes"), spec.main, *args]
    began = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=built, start_new_session=True)
    _RUNNING.add(process)
    port: int | None = None
    try:
        deadline = began + timeout
        while True:
            if process.poll() is not None:
                raise JavaHarnessError(f"the {kind} service exited with code {process.returncode} before it "
                                       f"answered; its log ({log_path}):\n{_tail(log_path)}")
            if port is None:
                found = re.search(rb"^LISTENING (\d+)", log_path.read_bytes(), re.MULTILINE)
                port = int(found.group(1)) if found else None
            if port is not None and _answers_wsdl(f"http://127.0.0.1:{port}{spec.path}?wsdl"):
                break
            if time.monotonic() > deadline:
                raise JavaHarnessError(f"the {kind} service did not serve its ?wsdl within {timeout:.0f} s "
                                       f"(port {port}); its log ({log_path}):\n{_tail(log_path)}")
            time.sleep(0.25)
    except BaseException:
        _stop(process)
        raise
    return JavaService(
        kind=kind, base_url=f"http://127.0.0.1:{port}", path=spec.path, namespace=spec.namespace,
        service=spec.service, port_name=spec.port, records=list(records or []), records_file=records_file,
        process=process, log_path=log_path, options=options, started_in=time.monotonic() - began,
        username=username if kind == "wss" else None, password=password if kind == "wss" else None,
        password_type=password_type if kind == "wss" else None,
    )


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


__all__ = [
    "DEBIAN_PACKAGES",
    "FIELDS",
    "JAR_PACKAGES",
    "KINDS",
    "WSS_PASSWORD",
    "WSS_USERNAME",
    "JavaHarnessError",
    "JavaService",
    "JavaUnavailable",
    "build",
    "ensure_packages",
    "expected_page",
    "generate_records",
    "id_number",
    "java_tools",
    "ordered",
    "prepare",
    "start_service",
    "write_records_tsv",
]
