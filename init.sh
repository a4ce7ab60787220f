#!/usr/bin/env bash
# Starts messenger with Docker Compose, waits until it answers, and prints where it listens.
#
#   ./init.sh            Cassandra store: cassandra + migrate + app (docker-compose.yml)
#   ./init.sh --sqlite   SQLite store only (docker-compose.sqlite.yml)
#   ./init.sh --seed     also load deterministic demo data (users 1..10) once the schema exists
#   ./init.sh --down     stop and remove the containers (volumes are kept)
#
# Environment: MESSENGER_TAG (image tag, default "local"), MESSENGER_HOST_PORT (default 8000),
# INIT_TIMEOUT (seconds to wait for health, default 300).
set -euo pipefail
cd "$(dirname "$0")"

compose_file=docker-compose.yml
seed=0
down=0
for arg in "$@"; do
  case "$arg" in
    --sqlite) compose_file=docker-compose.sqlite.yml ;;
    --seed) seed=1 ;;
    --down) down=1 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "init.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

export MESSENGER_TAG=${MESSENGER_TAG:-local}
port=${MESSENGER_HOST_PORT:-8000}
timeout=${INIT_TIMEOUT:-300}
compose=(docker compose -f "$compose_file")

if [ "$down" -eq 1 ]; then
  "${compose[@]}" --profile seed down
  exit 0
fi

"${compose[@]}" build app
if [ "$seed" -eq 1 ] && [ "$compose_file" = docker-compose.sqlite.yml ]; then
  # SQLite: seed the volume's database before the server opens it.
  "${compose[@]}" run --rm seed
fi
"${compose[@]}" up -d app

# Wait for the app container's HEALTHCHECK (messenger healthcheck -> GET /health).
deadline=$((SECONDS + timeout))
status=starting
while [ "$status" != healthy ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "init.sh: app not healthy after ${timeout}s (status: $status)" >&2
    "${compose[@]}" ps -a >&2
    "${compose[@]}" logs --tail 50 >&2
    exit 1
  fi
  sleep 2
  cid=$("${compose[@]}" ps -q app)
  if [ -z "$cid" ]; then
    status=not-created
  else
    status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$cid")
  fi
  if [ "$status" = exited ] || [ "$status" = dead ]; then
    echo "init.sh: app container $status" >&2
    "${compose[@]}" logs --tail 50 >&2
    exit 1
  fi
done

if [ "$seed" -eq 1 ] && [ "$compose_file" = docker-compose.yml ]; then
  "${compose[@]}" run --rm seed
fi

echo "messenger is up: http://127.0.0.1:$port/ (API docs: http://127.0.0.1:$port/docs)"
