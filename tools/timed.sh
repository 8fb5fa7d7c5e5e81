#!/usr/bin/env bash
# tools/timed.sh NAME COMMAND...: run COMMAND, then say how long it took ("== NAME: 93 s") and
# append the line to artifacts/test-times.txt, for `make test`'s closing summary. Exits with
# COMMAND's status.
name="$1"
shift
start=$(date +%s)
"$@"
status=$?
line="$name: $(($(date +%s) - start)) s$([ "$status" = 0 ] || echo " (failed, exit $status)")"
echo "== $line"
mkdir -p artifacts
echo "$line" >>artifacts/test-times.txt
exit "$status"
