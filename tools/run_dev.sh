#!/usr/bin/env bash
# `make run`: the development server and the background worker together, in the foreground.
# Ctrl-C stops both (so does either of them stopping: the other is stopped too).
#   PY=.venv/bin/python RUN_ADDR=127.0.0.1:8000 tools/run_dev.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
RUN_ADDR="${RUN_ADDR:-127.0.0.1:8000}"

pids=()
stop() {
  trap - INT TERM EXIT
  # Background jobs of a script ignore Ctrl-C's SIGINT: each is told to stop with SIGTERM (the
  # worker finishes the task under way; runserver's reloader stops its child).
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

"$PY" manage.py worker &
pids+=($!)
"$PY" manage.py runserver "$RUN_ADDR" &
pids+=($!)
wait -n
