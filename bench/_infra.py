"""Shared pieces of the benchmarks: local servers in their own processes, configs, figures.

Everything stays on the loopback interface. The servers are nginx (Debian's ``nginx-light``)
when it is installed, else small aiohttp servers in a subprocess (``bench/_aiohttp_server.py``);
either way they run in processes of their own, so the process being measured pays only its own
CPU. HTTPS uses a trustme CA whose PEM the measured process is told to trust.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trustme

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable

LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
"""Several loopback addresses (all of 127/8 is local on Linux): fresh connections at thousands
a second leave TIME_WAIT sockets behind, and each (address, port) pair has its own 28k ports."""

PAGE = "<html><body><h1>ok monitord bench</h1></body></html>\n"
"""What every local site serves; the checks expect status 200 and ``contains: "ok monitord"``."""

SERVER_START_TIMEOUT = 10.0
"""Seconds to wait for the local servers to accept connections before giving up."""

SERVER_WORKERS = 1
"""nginx worker processes: one keeps the servers on (at most) one of the two cores."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local server on {host}:{port} did not start") from None
            time.sleep(0.05)


@dataclass
class Servers:
    """Local HTTP and HTTPS endpoints and the CA file that makes the HTTPS ones trusted."""

    kind: str
    """``nginx 1.22.1`` or ``aiohttp (subprocess)``."""
    http_port: int
    https_port: int
    ca_file: Path
    pid: int
    hosts: Sequence[str] = LOOPBACK_HOSTS

    def http_urls(self) -> list[str]:
        return [f"http://{h}:{self.http_port}/" for h in self.hosts]

    def https_urls(self) -> list[str]:
        return [f"https://{h}:{self.https_port}/" for h in self.hosts]

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def _nginx_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    text = (out.stderr or out.stdout).strip()
    return text.split("/", 1)[-1] if "/" in text else text


def _nginx_conf(work: Path, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    listens = "\n".join(f"        listen {h}:{http_port};" for h in LOOPBACK_HOSTS)
    ssl_listens = "\n".join(f"        listen {h}:{https_port} ssl;" for h in LOOPBACK_HOSTS)
    body = PAGE.replace('"', '\\"').replace("\n", "\\n")
    return textwrap.dedent(
        f"""\
        worker_processes {SERVER_WORKERS};
        daemon off;
        pid {work}/nginx.pid;
        error_log {work}/error.log warn;
        events {{ worker_connections 16384; }}
        http {{
            access_log off;
            client_body_temp_path {work}/body;
            proxy_temp_path {work}/proxy;
            fastcgi_temp_path {work}/fastcgi;
            uwsgi_temp_path {work}/uwsgi;
            scgi_temp_path {work}/scgi;
            default_type text/html;
            ssl_certificate {cert};
            ssl_certificate_key {key};
            ssl_session_cache off;
            ssl_session_tickets off;
            server {{
        {listens}
        {ssl_listens}
                location / {{ return 200 "{body}"; }}
            }}
        }}
        """
    )


@contextlib.contextmanager
def local_servers(prefer: str = "nginx") -> Iterator[Servers]:
    """Start the local servers (nginx if present) in their own process group; stop on exit.

    TLS session resumption is off on the server, so every HTTPS probe pays a full handshake,
    as a probe against a real site does (monitord does not resume sessions either).
    """
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-srv-"))
    ca = trustme.CA()
    leaf = ca.issue_cert(*LOOPBACK_HOSTS, "localhost")
    ca_file, cert, key = work / "ca.pem", work / "cert.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_pem.write_to_path(str(key))
    with cert.open("wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    http_port, https_port = free_port(), free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if prefer == "nginx" and nginx:
        conf = work / "nginx.conf"
        conf.write_text(_nginx_conf(work, http_port, https_port, cert, key))
        cmd = [nginx, "-p", str(work), "-c", str(conf)]
        kind = f"nginx {_nginx_version(nginx)} ({SERVER_WORKERS} worker)"
    else:
        cmd = [
            PYTHON,
            str(BENCH_DIR / "_aiohttp_server.py"),
            "--http-port",
            str(http_port),
            "--https-port",
            str(https_port),
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--hosts",
            ",".join(LOOPBACK_HOSTS),
        ]
        kind = "aiohttp (subprocess, 1 process)"
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        for h in LOOPBACK_HOSTS:
            wait_for_port(h, http_port, SERVER_START_TIMEOUT)
            wait_for_port(h, https_port, SERVER_START_TIMEOUT)
        yield Servers(kind, http_port, https_port, ca_file, proc.pid)
    finally:
        # Only the group we started (start_new_session: its id is proc.pid).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------- configuration


def write_config(
    directory: Path,
    urls: Sequence[str],
    sites: int,
    *,
    clients: int = 100,
    interval: str = "60s",
    timeout: str = "10s",
) -> Path:
    """A monitord configuration of ``sites`` sites (one http check each) in ``clients`` files.

    Sites take the ``urls`` in turn (with their own path); the advisory watcher and the HTTP API
    are off; SMTP points at a closed loopback port (the sites stay up, so nothing is sent).
    """
    smtp_port = free_port()
    (directory / "clients").mkdir(parents=True, exist_ok=True)
    (directory / "monitord.yml").write_text(
        textwrap.dedent(
            f"""\
            agency:
              name: Bench
              timezone: Europe/London
            state: {{path: {directory / "state.sqlite3"}}}
            smtp: {{host: 127.0.0.1, port: {smtp_port}, from: "Bench <bench@bench.example>"}}
            security: {{enabled: false}}
            http: {{listen: off}}
            """
        )
    )
    per_client = -(-sites // clients)
    for c in range(clients):
        numbers = range(c * per_client, min(sites, (c + 1) * per_client))
        if not numbers:
            break
        lines = [
            f"client: c{c:03d}",
            f"name: Client {c}",
            "contacts:",
            f"  - {{name: Contact {c}, email: web@c{c:03d}.example}}",
            "sites:",
        ]
        for n in numbers:
            url = f"{urls[n % len(urls)]}s/{n}"
            lines.append(
                f"  - {{id: s{n:06d}, url: '{url}', checks: [{{type: http, interval: {interval}, "
                f'timeout: {timeout}, expect: {{status: 200, contains: "ok monitord"}}}}]}}'
            )
        (directory / "clients" / f"c{c:03d}.yml").write_text("\n".join(lines) + "\n")
    return directory


# ---------------------------------------------------------------------------- figures


@dataclass
class Machine:
    nproc: int
    cpu: str
    memory: str
    python: str
    kernel: str
    extra: dict[str, str] = field(default_factory=dict)


def machine() -> Machine:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    total = next((ln.split()[1] for ln in mem.splitlines() if ln.startswith("Mem:")), "?")
    return Machine(
        nproc=os.cpu_count() or 0,
        cpu=cpu,
        memory=f"{total} RAM",
        python=platform.python_version(),
        kernel=platform.release(),
    )


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), nearest-rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM in KiB from /proc/PID/status."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0])
    return out


# ---------------------------------------------------------------------------- PostgreSQL

PG_BIN_DIRS = tuple(Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15))
"""Where Debian installs the server binaries (initdb and pg_ctl are not on PATH there)."""

PG_START_TIMEOUT_S = 60
"""pg_ctl waits this long for the server to start or stop (a loaded 2-core machine)."""

PG_USER = "nobody"
"""The user the server runs as when the benchmark runs as root (initdb refuses root)."""


def find_pg_bin() -> Path | None:
    env = os.environ.get("MONITORD_PG_BIN")
    for d in ((Path(env),) if env else ()) + PG_BIN_DIRS:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PgServer:
    """A throwaway PostgreSQL server (the approach of tests/helpers/postgres.py, with the
    server's own durability defaults: fsync, synchronous_commit and full_page_writes on)."""

    root: Path
    port: int
    bin: Path
    version: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str, host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                *(str(self.bin / "psql"), "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
                *("-c", sql),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=PG_START_TIMEOUT_S,
        )
        return out.stdout

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])


@contextlib.contextmanager
def postgres_server(listen: Sequence[str] = ("127.0.0.1",)) -> Iterator[PgServer]:
    """Debian's PostgreSQL in a temporary directory, listening on ``listen`` at a free port;
    stopped and removed on exit."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="monitord-bench-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam(PG_USER)
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    try:
        subprocess.run(
            _as_pg_user(
                [
                    *(str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres"),
                    *("--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"),
                ]
            ),
            check=True,
            capture_output=True,
            timeout=PG_START_TIMEOUT_S,
        )
        opts = (
            f"-c listen_addresses={','.join(listen)} -c port={port} "
            f"-c unix_socket_directories={sock} -c max_connections=100"
        )
        subprocess.run(
            _as_pg_user(
                [
                    *(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts),
                    *("-w", "-t", str(PG_START_TIMEOUT_S), "start"),
                ]
            ),
            check=True,
            capture_output=True,
            timeout=PG_START_TIMEOUT_S * 2,
        )
    except subprocess.CalledProcessError as exc:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr!r}\n{text[-2000:]}") from exc
    version = subprocess.run(
        [str(pg_bin / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    try:
        yield PgServer(root=root, port=port, bin=pg_bin, version=version)
    finally:
        subprocess.run(
            _as_pg_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=PG_START_TIMEOUT_S * 2,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) of a process and its live children, plus the children it
    has reaped (cutime/cstime): the whole of a forking server such as PostgreSQL or nginx.
    A delta between two calls is the tree's CPU over that time."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        if pid == root_pid:
            total += utime + stime + cutime + cstime
        elif ppid == root_pid:
            total += utime + stime
    return total / tick
