#!/usr/bin/env bash
# Azurite (the Table Storage emulator) for the tablestore tests.
#
#   scripts/azurite.sh start        start it in the background (or reuse the
#                                   one already started here) and print the
#                                   connection string on stdout
#   scripts/azurite.sh stop         stop the instance started by "start"
#   scripts/azurite.sh status       say whether it runs; exit 1 when not
#   scripts/azurite.sh run CMD...   start, run CMD with ROSTERSYNC_TEST_TABLES
#                                   set, stop again, exit with CMD's status
#
# Environment: AZURITE_TABLE_PORT (default 10002), AZURITE_WAIT_SECONDS
# (default 30). Azurite keeps everything in memory: every start is empty.
# The version is pinned in package.json / package-lock.json and installed
# with "npm ci" into node_modules when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${AZURITE_TABLE_PORT:-10002}"
wait_seconds="${AZURITE_WAIT_SECONDS:-30}"
state_dir="$root/.azurite"
pid_file="$state_dir/pid"
port_file="$state_dir/port"
log_file="$state_dir/azurite.log"
bin="$root/node_modules/.bin/azurite-table"

# The well-known development account key is public (it is in Azurite's
# README); aztables needs the full string because it rejects
# UseDevelopmentStorage=true.
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;"

say() { echo "azurite.sh: $*" >&2; }

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

running_pid() {
	[[ -f "$pid_file" ]] || return 1
	local pid
	pid="$(cat "$pid_file")"
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

start() {
	if pid="$(running_pid)"; then
		local running_port
		running_port="$(cat "$port_file" 2>/dev/null || echo unknown)"
		if [[ "$running_port" != "$port" ]]; then
			say "already running on port $running_port (pid $pid), not $port; run \"$0 stop\" first"
			return 1
		fi
		say "already running (pid $pid, port $port)"
		echo "$conn"
		return 0
	fi
	rm -f "$pid_file" "$port_file"
	if port_open; then
		say "port $port is already in use by another process; stop it or set AZURITE_TABLE_PORT"
		return 1
	fi
	if [[ ! -x "$bin" ]]; then
		command -v npm >/dev/null || { say "npm not found: install Node.js (https://nodejs.org) to run Azurite"; return 1; }
		say "installing Azurite (npm ci)"
		(cd "$root" && npm ci --no-audit --no-fund >&2)
	fi
	mkdir -p "$state_dir"
	# --skipApiVersionCheck: aztables sends an x-ms-version newer than some
	# Azurite releases know. --loose: accept headers Azurite does not
	# implement. --inMemoryPersistence rules out --location, so run it from
	# .azurite to keep any debris there.
	(cd "$state_dir" && exec nohup "$bin" --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
		--loose --silent --tableHost 127.0.0.1 --tablePort "$port" \
		</dev/null >"$log_file" 2>&1) &
	local pid=$!
	echo "$pid" >"$pid_file"
	echo "$port" >"$port_file"
	local deadline=$((SECONDS + wait_seconds))
	until port_open; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pid_file" "$port_file"
			say "Azurite exited before listening on port $port; its log ($log_file):"
			cat "$log_file" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			say "Azurite (pid $pid) did not listen on port $port within ${wait_seconds}s; stopping it. Log: $log_file"
			stop
			return 1
		fi
		sleep 0.2
	done
	say "started (pid $pid, port $port)"
	echo "$conn"
}

stop() {
	local pid
	if ! pid="$(running_pid)"; then
		rm -f "$pid_file" "$port_file"
		say "not running"
		return 0
	fi
	kill "$pid"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "pid $pid ignored SIGTERM; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pid_file" "$port_file"
	say "stopped (pid $pid)"
}

run() {
	(($# > 0)) || { say "usage: $0 run CMD [ARGS...]"; return 2; }
	local cs status=0
	# Only stop an instance this call started; leave a developer's own
	# long-running one alone.
	local started=0
	running_pid >/dev/null || started=1
	cs="$(start)"
	ROSTERSYNC_TEST_TABLES="$cs" "$@" || status=$?
	((started)) && stop
	return "$status"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	if pid="$(running_pid)"; then
		say "running (pid $pid, port $port)"
		echo "$conn"
	else
		say "not running"
		exit 1
	fi
	;;
run)
	shift
	run "$@"
	;;
*)
	echo "usage: $0 start|stop|status|run CMD..." >&2
	exit 2
	;;
esac
