"""Benchmark settings: the production settings, plus the bare reference views under /bench/."""

from wetechnologies.settings import *  # noqa: F403
from wetechnologies.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [BASE_DIR / "bench" / "templates", *TEMPLATES[0]["DIRS"]]
