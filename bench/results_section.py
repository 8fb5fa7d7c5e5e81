"""Write one `## Section` of bench/results.md, leaving every other section as it is."""

import fcntl
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
HEADER = "# Benchmark results\n\nEach section is written by the script named in it.\n"


def write_section(title: str, body: str, *, script: str | None = None) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    origin = f"`bench/{script}`, " if script else ""
    section = f"## {title}\n\n_{origin}measured {stamp}._\n\n{body.strip()}\n"
    with open(Path(tempfile.gettempdir()) / "wetech-bench-results.lock", "w") as lock:
        # Two benchmarks finishing at once must not lose each other's section.
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
        pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
