"""Load benchmark: the production configuration under gunicorn, measured against bare Django.

    make bench                      # PostgreSQL (+ Redis) and SQLite, writes bench/results.md
    .venv/bin/python bench/run.py --engines sqlite --seconds 5

For each database engine it migrates a scratch database, starts gunicorn with the production
settings (DEBUG off, whitenoise manifest, Redis cache when it answers) plus the reference views in
`bench/views.py`, and drives every endpoint with wrk on loopback. Endpoints and their references
are measured in alternating rounds in one run, so machine noise hits both alike; the table keeps
each endpoint's median round. Only 127.0.0.1 is ever contacted.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
HOST = "127.0.0.1"
# Overridable so two benchmarks on one machine need not share ports, a database or a Redis db.
SITE_PORT = int(os.environ.get("BENCH_SITE_PORT", "8120"))
FAKE_GATEWAY_PORT = int(os.environ.get("BENCH_GATEWAY_PORT", "8121"))
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "wetech_bench")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "14")
RESULTS = ROOT / "bench" / "results.md"
LUA = ROOT / "bench" / "lua"


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on {HOST}:{port} within {timeout:.0f} s")


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


@contextlib.contextmanager
def process(cmd: list[str], env: dict, log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {}
    for pct, value, unit in re.findall(
        r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
    ):
        latency[pct] = float(value) * _UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "bad": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def wrk(
    path: str,
    *,
    seconds: int,
    connections: int = 8,
    script: Path | None = None,
    env: dict | None = None,
) -> dict:
    cmd = ["wrk", "--latency", "-t2", f"-c{connections}", f"-d{seconds}s"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(f"http://{HOST}:{SITE_PORT}{path}")
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    )
    return parse_wrk(result.stdout)


def http_get(path: str, headers: dict | None = None) -> tuple[str, dict]:
    request = Request(f"http://{HOST}:{SITE_PORT}{path}", headers=headers or {})
    with urlopen(request, timeout=10) as response:
        return response.read().decode(), dict(response.headers)


def lead_form_fields(service_path: str) -> tuple[dict, str]:
    """GET the service page like a browser and return its hidden fields and CSRF cookie."""
    body, headers = http_get(service_path)
    cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", "")).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    return fields, cookie


def first_service_path() -> str:
    body, _ = http_get("/")
    return re.search(r'href="(/services/[^"]+/)"', body).group(1)


def median_round(rounds: list[dict]) -> dict:
    by_rps = sorted(rounds, key=lambda r: r["rps"])
    middle = by_rps[len(by_rps) // 2]
    return {
        **middle,
        "bad": sum(r["bad"] for r in rounds),
        "all_rps": [round(r["rps"]) for r in rounds],
    }


def base_env(engine: str, workdir: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SITE_URL": f"http://{HOST}:{SITE_PORT}",
        "TRUSTED_PROXY_COUNT": "1",
        "LEADS_RATE_LIMIT": "100000000/m",
        "LEADS_DAILY_LIMIT": "100000000/d",
        "CALLBACK_RATE_LIMIT": "100000000/m",
        "LEAD_FORM_MIN_SECONDS": "0",
        "LOG_DIR": str(workdir / "logs"),
        "BACKUP_DIR": str(workdir / "backups"),
        "EMAIL_URL": "dummymail://",
        "PESAPAL_BASE_URL": f"http://{HOST}:{FAKE_GATEWAY_PORT}",
        "PESAPAL_CONSUMER_KEY": "bench-key",
        "PESAPAL_CONSUMER_SECRET": "bench-secret",
        "PESAPAL_IPN_ID": "bench-ipn-id",
        "GUNICORN_BIND": f"{HOST}:{SITE_PORT}",
        "GUNICORN_ACCESS_LOG": str(workdir / "access.log"),
    }
    for key in ("DATABASE_URL", "REDIS_URL", "GATEWAY_SIMULATOR", "TASK_BROKER_URL"):
        env.pop(key, None)
    if engine == "postgres":
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{PG_DATABASE}"
        if port_open(6379):
            env["REDIS_URL"] = f"redis://{HOST}:6379/{REDIS_DB}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    if "REDIS_URL" not in env:
        # The emails the benchmark queues go to a queue of its own, never make run's var/.
        env["TASK_BROKER_URL"] = f"sqlite:///{workdir / 'huey.sqlite3'}"
    return env


def prepare_database(engine: str, env: dict) -> None:
    if engine == "postgres":
        psql = ["psql", "-q", "-h", HOST, "-U", "postgres", "-d", "postgres", "-c"]
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {PG_DATABASE}"], check=True)
        subprocess.run([*psql, f"CREATE DATABASE {PG_DATABASE}"], check=True)
    if env.get("REDIS_URL"):
        subprocess.run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"], check=False, capture_output=True)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    manage(env, "collectstatic", "--noinput")


def scenarios(seconds: int) -> list[tuple[str, str, dict]]:
    """(label, reference label, wrk arguments) for every measured endpoint."""
    return [
        ("bare view", "", {"path": "/bench/bare/"}),
        ("GET /health/live/", "bare view", {"path": "/health/live/"}),
        ("GET /health/ready/", "bare view", {"path": "/health/ready/"}),
        ("bare form page", "", {"path": "/bench/bare-form/"}),
        ("GET /", "bare form page", {"path": "/"}),
        ("GET /services/<slug>/", "bare form page", {"path": "{service}"}),
        ("bare insert", "", {"path": "/bench/bare-insert/", "script": LUA / "post_insert.lua"}),
        ("bare lead", "", {"path": "/bench/bare-lead/", "script": LUA / "post_lead.lua"}),
        ("POST /leads/", "bare lead", {"path": "/leads/", "script": LUA / "post_lead.lua"}),
    ]


# Rows compared with more than one reference, and rows measured outside `scenarios`.
EXTRA_REFERENCES = {
    "POST /leads/": ("bare insert",),
    "IPN settlement (distinct orders)": ("bare settlement",),
}


def references_of(label: str, seconds: int) -> list[str]:
    main = [ref for lab, ref, _ in scenarios(seconds) if lab == label and ref]
    return main + list(EXTRA_REFERENCES.get(label, ()))


def run_engine(engine: str, *, seconds: int, rounds: int, workdir: Path, ipn_only: bool) -> dict:
    env = base_env(engine, workdir)
    prepare_database(engine, env)
    results: dict[str, list[dict]] = {}
    gunicorn = [GUNICORN, "-c", "gunicorn.conf.py", "wetechnologies.wsgi"]
    with process(gunicorn, env, workdir / f"gunicorn-{engine}.log"):
        wait_for_port(SITE_PORT)
        service = first_service_path()
        fields, cookie = lead_form_fields(service)
        lead_env = {"LEAD_FORM": urlencode(fields), "LEAD_COOKIE": cookie}
        http_get("/")  # warm every worker's caches a little before the first round
        for _ in range(0 if ipn_only else rounds):
            for label, _ref, args in scenarios(seconds):
                path = args["path"].format(service=service)
                measured = wrk(path, seconds=seconds, script=args.get("script"), env=lead_env)
                results.setdefault(label, []).append(measured)
        extra = ipn_settlement(env, seconds=seconds, rounds=rounds, workdir=workdir)
    table = {label: median_round(rounds_) for label, rounds_ in results.items()}
    table.update(extra)
    return table


def ipn_settlement(env: dict, *, seconds: int, rounds: int, workdir: Path) -> dict:
    """Pesapal IPN settlement against a local fake status endpoint (see bench/ipn.py)."""
    from bench import ipn

    return ipn.measure(
        env=env,
        seconds=seconds,
        rounds=rounds,
        workdir=workdir,
        site_port=SITE_PORT,
        gateway_port=FAKE_GATEWAY_PORT,
        wrk=wrk,
        process=process,
        median_round=median_round,
    )


def render(tables: dict[str, dict], *, seconds: int, rounds: int) -> str:
    lines = [
        "## Load benchmark (`make bench`)",
        "",
        f"gunicorn with the production settings ({os.cpu_count()} CPUs, `gunicorn.conf.py` "
        f"workers), wrk on loopback, 2 threads x 8 connections, {rounds} alternating rounds of "
        f"{seconds} s per endpoint, median round shown. Ratio = endpoint req/s / its reference's "
        "req/s from the same run. References are the views in `bench/views.py`, served by the "
        "same processes behind the same middleware.",
        "",
    ]
    for engine, table in tables.items():
        lines += [
            f"### {engine}",
            "",
            "| endpoint | req/s | p50 ms | p99 ms | non-2xx/3xx | ratio to reference |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for label, row in table.items():
            if "rps" not in row:
                continue
            ratio = "; ".join(
                f"**{row['rps'] / table[ref]['rps']:.2f} of {ref}**"
                if ref.startswith("bare lead") or ref.startswith("bare settlement")
                else f"{row['rps'] / table[ref]['rps']:.2f} of {ref}"
                for ref in references_of(label, seconds)
                if ref in table
            )
            p50 = f"{row['p50']:.1f}" if row.get("p50") is not None else ""
            p99 = f"{row['p99']:.1f}" if row.get("p99") is not None else ""
            lines.append(f"| {label} | {row['rps']:.0f} | {p50} | {p99} | {row['bad']} | {ratio} |")
        for label, row in table.items():
            if "summary" in row:
                lines += ["", f"{label}: {row['summary']}"]
        lines.append("")
    return "\n".join(lines)


def write_results(section: str) -> None:
    """Replace this benchmark's section of bench/results.md, keeping the others."""
    heading = "## Load benchmark"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(heading)
    if start == -1:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")
    RESULTS.write_text(text.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgres,sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--ipn-only", action="store_true", help="only the IPN settlement part")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    tables = {}
    with tempfile.TemporaryDirectory(prefix="wetech-bench-") as tmp:
        for engine in args.engines.split(","):
            if engine == "postgres" and not port_open(5432):
                print("PostgreSQL does not answer on 127.0.0.1:5432; skipped")
                continue
            engine_dir = Path(tmp) / engine
            engine_dir.mkdir()
            label = (
                "PostgreSQL" + (" + Redis" if port_open(6379) else "")
                if engine == "postgres"
                else "SQLite"
            )
            tables[label] = run_engine(
                engine,
                seconds=args.seconds,
                rounds=args.rounds,
                workdir=engine_dir,
                ipn_only=args.ipn_only,
            )
    section = render(tables, seconds=args.seconds, rounds=args.rounds)
    print(section)
    if not args.no_write:
        write_results(section)


if __name__ == "__main__":
    main()
