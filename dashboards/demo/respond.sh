#!/usr/bin/env bash
# The compose demo's responder (docker-compose.yml, service demo-responder): puts the incident capture's 24 meters
# into the control API's registry, so that it knows the scanning meter's IMSI, makes itself a key of role analyzer,
# and execs `tapwatch <args> --control-key-id ID` with the secret in TAPWATCH_CONTROL_KEY (not on the command line).
# A new key at every start: the demo has no operator to hand one out. Run from the repository root (the image's
# /app); TAPWATCH_CONTROL_DB is the control API's database (default /data/control.db, the control-data volume).
set -euo pipefail

db=${TAPWATCH_CONTROL_DB:-/data/control.db}
tapwatch() { node dist/cli/tapwatch.js "$@"; }

# Existing subscribers keep their state, so a restart changes nothing already there. --init: the demo volume may
# be new if this starts before the control API has created it.
tapwatch control import --db "$db" --init fixtures/demo/incident-inventory.csv >&2
key=$(tapwatch control keys create --db "$db" --role analyzer --name 'compose demo responder')
field() { node -e 'process.stdout.write(JSON.parse(process.argv[1])[process.argv[2]])' "$key" "$1"; }
id=$(field authKeyId)
TAPWATCH_CONTROL_KEY=$(field authKey)
export TAPWATCH_CONTROL_KEY
exec node dist/cli/tapwatch.js "$@" --control-key-id "$id"
