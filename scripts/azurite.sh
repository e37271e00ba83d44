#!/usr/bin/env bash
# Azurite (the Table and Blob Storage emulators) for the tests: the
# tablestore tests use its table service, the blobstore and blob-source
# tests its blob service.
#
#   scripts/azurite.sh start        start both in the background (or reuse
#                                   the ones already started here) and print
#                                   a connection string naming both on stdout
#   scripts/azurite.sh stop         stop the instances started by "start"
#   scripts/azurite.sh status       say whether they run; exit 1 when not
#   scripts/azurite.sh run CMD...   start, run CMD with ROSTERSYNC_TEST_TABLES
#                                   and ROSTERSYNC_TEST_BLOBS set, stop what
#                                   this call started, exit with CMD's status
#
# Environment: AZURITE_TABLE_PORT (default 10002), AZURITE_BLOB_PORT
# (default 10000), AZURITE_WAIT_SECONDS (default 30). Azurite keeps
# everything in memory: every start is empty. The version is pinned in
# package.json / package-lock.json and installed with "npm ci" into
# node_modules when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
table_port="${AZURITE_TABLE_PORT:-10002}"
blob_port="${AZURITE_BLOB_PORT:-10000}"
wait_seconds="${AZURITE_WAIT_SECONDS:-30}"
state_dir="$root/.azurite"

# The well-known development account key is public (it is in Azurite's
# README); aztables and azblob need the full string because they reject
# UseDevelopmentStorage=true.
account="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
table_conn="${account}TableEndpoint=http://127.0.0.1:${table_port}/devstoreaccount1;"
blob_conn="${account}BlobEndpoint=http://127.0.0.1:${blob_port}/devstoreaccount1;"
both_conn="${account}BlobEndpoint=http://127.0.0.1:${blob_port}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${table_port}/devstoreaccount1;"
services=(table blob)

say() { echo "azurite.sh: $*" >&2; }

# Per service: its port, and its files in .azurite (the table service keeps
# the names it had when it was the only one).
port_of() { if [[ "$1" == table ]]; then echo "$table_port"; else echo "$blob_port"; fi; }
pid_file() { if [[ "$1" == table ]]; then echo "$state_dir/pid"; else echo "$state_dir/$1.pid"; fi; }
port_file() { if [[ "$1" == table ]]; then echo "$state_dir/port"; else echo "$state_dir/$1.port"; fi; }
log_file() { if [[ "$1" == table ]]; then echo "$state_dir/azurite.log"; else echo "$state_dir/azurite-$1.log"; fi; }

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
	local f pid
	f="$(pid_file "$1")"
	[[ -f "$f" ]] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

install() {
	[[ -x "$root/node_modules/.bin/azurite-table" && -x "$root/node_modules/.bin/azurite-blob" ]] && return 0
	command -v npm >/dev/null || { say "npm not found: install Node.js (https://nodejs.org) to run Azurite"; return 1; }
	say "installing Azurite (npm ci)"
	(cd "$root" && npm ci --no-audit --no-fund >&2)
}

start_one() {
	local svc="$1" port pid pidf portf log
	port="$(port_of "$svc")" pidf="$(pid_file "$svc")" portf="$(port_file "$svc")" log="$(log_file "$svc")"
	if pid="$(running_pid "$svc")"; then
		local running_port
		running_port="$(cat "$portf" 2>/dev/null || echo unknown)"
		if [[ "$running_port" != "$port" ]]; then
			say "$svc service already running on port $running_port (pid $pid), not $port; run \"$0 stop\" first"
			return 1
		fi
		say "$svc service already running (pid $pid, port $port)"
		return 0
	fi
	rm -f "$pidf" "$portf"
	if port_open "$port"; then
		say "port $port is already in use by another process; stop it or set AZURITE_$(echo "$svc" | tr a-z A-Z)_PORT"
		return 1
	fi
	install
	mkdir -p "$state_dir"
	# --skipApiVersionCheck: the SDKs send an x-ms-version newer than some
	# Azurite releases know. --loose: accept headers Azurite does not
	# implement. --inMemoryPersistence rules out --location, so run it from
	# .azurite to keep any debris there.
	(cd "$state_dir" && exec nohup "$root/node_modules/.bin/azurite-$svc" --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
		--loose --silent "--${svc}Host" 127.0.0.1 "--${svc}Port" "$port" \
		</dev/null >"$log" 2>&1) &
	pid=$!
	echo "$pid" >"$pidf"
	echo "$port" >"$portf"
	local deadline=$((SECONDS + wait_seconds))
	until port_open "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidf" "$portf"
			say "Azurite's $svc service exited before listening on port $port; its log ($log):"
			cat "$log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			say "Azurite's $svc service (pid $pid) did not listen on port $port within ${wait_seconds}s; stopping it. Log: $log"
			stop_one "$svc"
			return 1
		fi
		sleep 0.2
	done
	say "$svc service started (pid $pid, port $port)"
}

stop_one() {
	local svc="$1" pid
	if ! pid="$(running_pid "$svc")"; then
		rm -f "$(pid_file "$svc")" "$(port_file "$svc")"
		say "$svc service not running"
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
	rm -f "$(pid_file "$svc")" "$(port_file "$svc")"
	say "$svc service stopped (pid $pid)"
}

start() {
	local svc
	for svc in "${services[@]}"; do
		start_one "$svc" || return 1
	done
	echo "$both_conn"
}

stop() {
	local svc
	for svc in "${services[@]}"; do
		stop_one "$svc"
	done
}

run() {
	(($# > 0)) || { say "usage: $0 run CMD [ARGS...]"; return 2; }
	local svc status=0 started=()
	# Only stop the services this call started; leave a developer's own
	# long-running ones alone.
	for svc in "${services[@]}"; do
		running_pid "$svc" >/dev/null || started+=("$svc")
	done
	if ! start >/dev/null; then
		for svc in ${started[@]+"${started[@]}"}; do stop_one "$svc"; done
		return 1
	fi
	ROSTERSYNC_TEST_TABLES="$table_conn" ROSTERSYNC_TEST_BLOBS="$blob_conn" "$@" || status=$?
	for svc in ${started[@]+"${started[@]}"}; do stop_one "$svc"; done
	return "$status"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	down=0
	for svc in "${services[@]}"; do
		if pid="$(running_pid "$svc")"; then
			say "$svc service running (pid $pid, port $(port_of "$svc"))"
		else
			say "$svc service not running"
			down=1
		fi
	done
	((down)) && exit 1
	echo "$both_conn"
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
