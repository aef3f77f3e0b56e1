#!/usr/bin/env bash
# make bench-fleet: how long Terraform takes to send one command to a fleet, three ways, side by
# side in one run against the standalone mock:
#
#   batch   one iotda_batch_command for N devices (one IoTDA batch task)
#   single  N iotda_device_command resources (one synchronous command each)
#   curl    N terraform_data resources with a local-exec curl each (the shell workaround)
#
# then 10,000 devices with iotda_batch_command alone, as one resource and as for_each chunks of
# CHUNK devices, with the wall time of a follow-up terraform plan and the state size.
#
# Settings (environment): N (default 1000), BIG (default 10000), CHUNK (default 1000),
# TERRAFORM (default bin/terraform), BENCH_KEEP=1 keeps the working directories.
#
# LATENCY (such as 100ms) runs instead the latency run: the mock answers every API request
# LATENCY late, as IoTDA far away would (its "latency" setting), and iotda_batch_command
# applies LAT_BIG devices (default 30000) as one resource, then LAT_CHUNKED devices (default
# 10000) as for_each chunks of CHUNK, printing the apply time and, from the provider's log,
# the sequential round trips of each task: its create, its status reads and the rounds of
# result pages (up to eleven pages at once each).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
terraform="${TERRAFORM:-$bin/terraform}"
n="${N:-1000}"
big="${BIG:-10000}"
chunk="${CHUNK:-1000}"
work=$(mktemp -d)
# shellcheck source=scripts/mock-lib.sh
. "$root/scripts/mock-lib.sh"

cleanup() {
	stop_mock
	if [ "${BENCH_KEEP:-}" = 1 ]; then
		echo "working directories kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

command -v curl >/dev/null || { echo "bench-fleet needs curl for the curl loop" >&2; exit 1; }
fleet=$((n > big ? n : big))
latency="${LATENCY:-}"
lat_big="${LAT_BIG:-30000}"
lat_chunked="${LAT_CHUNKED:-10000}"
[ -n "$latency" ] && fleet=$((lat_big > lat_chunked ? lat_big : lat_chunked))

build_provider_and_mock

echo "==> Starting the mock with a fleet of $fleet simulated devices (sensor-1 .. sensor-$fleet)"
latency_setting=""
[ -n "$latency" ] && latency_setting="\"latency\": \"$latency\","
cat >"$work/mock.json" <<JSON
{
  "project_id": "bench-project",
  "auth_token": "bench-token", $latency_setting
  "fleets": [{"prefix": "sensor-", "count": $fleet, "behavior": {"kind": "reply"}}]
}
JSON
start_mock "$work/mock.json" 120
use_built_provider
export IOTDA_ENDPOINT="$api" IOTDA_PROJECT_ID=bench-project IOTDA_AUTH_TOKEN=bench-token
unset TF_LOG TF_LOG_PROVIDER

required='terraform {
  required_providers {
    iotda = { source = "iotdalabs/iotda" }
  }
}
'

# setup DIR COUNT writes DIR/devices.txt with sensor-1 .. sensor-COUNT and returns DIR.
setup() {
	mkdir -p "$1"
	seq -f 'sensor-%.0f' 1 "$2" >"$1/devices.txt"
}

batch_config() {
	cat <<EOF
$required
resource "iotda_batch_command" "fleet" {
  device_ids   = split("\n", trimspace(file("devices.txt")))
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5 }
}
EOF
}

chunked_config() {
	cat <<EOF
$required
locals {
  chunks = { for i, ids in chunklist(split("\n", trimspace(file("devices.txt"))), $chunk) : format("%04d", i) => ids }
}

resource "iotda_batch_command" "fleet" {
  for_each     = local.chunks
  device_ids   = each.value
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5 }
}
EOF
}

single_config() {
	cat <<EOF
$required
resource "iotda_device_command" "fleet" {
  for_each     = toset(split("\n", trimspace(file("devices.txt"))))
  device_id    = each.key
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5 }
}
EOF
}

curl_config() {
	cat <<EOF
resource "terraform_data" "fleet" {
  for_each = toset(split("\n", trimspace(file("devices.txt"))))
  input    = each.key

  provisioner "local-exec" {
    command = "curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -H \"X-Auth-Token: \$IOTDA_AUTH_TOKEN\" -d '{\"service_id\":\"Maintenance\",\"command_name\":\"REBOOT\",\"paras\":{\"delay\":5}}' \$IOTDA_ENDPOINT/v5/iot/\$IOTDA_PROJECT_ID/devices/\${self.input}/commands"
  }
}
EOF
}

# timed DIR LABEL ARGS... runs terraform ARGS in DIR and sets $wall (seconds, 2 decimals) and
# $cpu (user + system seconds of terraform and the providers it ran).
timed() {
	local dir=$1 label=$2
	shift 2
	local times
	TIMEFORMAT='%R %U %S'
	if ! times=$({ time (cd "$dir" && "$terraform" "$@" -input=false -no-color >"$dir/$label.log" 2>&1); } 2>&1); then
		echo "terraform $* failed in $dir:" >&2
		tail -n 30 "$dir/$label.log" >&2
		exit 1
	fi
	read -r wall user sys <<<"$times"
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

# load prints the one-minute load average: wall times mean little on a busy machine, CPU times
# (Terraform's and the provider's) compare runs.
load() { cut -d' ' -f1 /proc/loadavg; }

state_kb() { awk -v b="$(stat -c %s "$1/terraform.tfstate")" 'BEGIN { printf "%.0f KB", b / 1024 }'; }

echo "==> Terraform: $("$terraform" version | head -n 1); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo


# round_trips LOG prints, for the tasks of one apply's provider log, the sequential round trips
# of the longest: 1 create + its status reads + its rounds of result pages, and the totals.
round_trips() {
	awk '
		/batch task [0-9a-f]+ .*requests in [0-9]+ rounds/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "task") id = $(i + 1)
				if ($i == "rounds)" || $i == "rounds):") rounds[id] = $(i - 1)
				if ($i == "(" || $i ~ /^\([0-9]+$/) { v = $i; sub(/\(/, "", v); pages[id] = v }
			}
		}
		/task [0-9a-f]+ ended after [0-9]+ status reads/ {
			for (i = 1; i <= NF; i++) if ($i == "task" && $(i + 2) == "ended") reads[$(i + 1)] = $(i + 4)
		}
		END {
			worst = 0
			for (id in rounds) {
				n++; seq = 1 + reads[id] + rounds[id]; req += 1 + reads[id] + pages[id]
				if (seq > worst) { worst = seq; wr = reads[id]; wo = rounds[id] }
			}
			if (n == 0) { print "no finished task in the provider log"; exit 1 }
			printf "%d task(s), %d batch requests; longest: %d sequential round trips (1 create, %d status reads, %d rounds of result pages)\n", n, req, worst, wr, wo
		}' "$1"
}

if [ -n "$latency" ]; then
	for layout in batch chunked; do
		count=$lat_big
		[ "$layout" = chunked ] && count=$lat_chunked
		dir="$work/latency-$layout-$count"
		setup "$dir" "$count"
		"${layout}_config" >"$dir/main.tf"
		what="1 iotda_batch_command"
		[ "$layout" = chunked ] && what="$(((count + chunk - 1) / chunk)) iotda_batch_command of $chunk devices (for_each)"
		TF_LOG_PROVIDER=INFO TF_LOG_PATH="$dir/provider.log" timed "$dir" apply apply -auto-approve
		echo "==> $latency from IoTDA, $count devices: $what"
		printf '    apply %8s s wall  %8s s CPU\n' "$wall" "$cpu"
		echo "    $(round_trips "$dir/provider.log")"
	done
	exit 0
fi
echo "==> $n devices, side by side (terraform apply, default parallelism)"
for kind in batch single curl; do
	dir="$work/$kind-$n"
	setup "$dir" "$n"
	"${kind}_config" >"$dir/main.tf"
	timed "$dir" apply apply -auto-approve
	printf '    %-7s %8s s wall  %8s s CPU   %s\n' "$kind" "$wall" "$cpu" \
		"$(case $kind in batch) echo "1 iotda_batch_command" ;; single) echo "$n iotda_device_command" ;; curl) echo "$n terraform_data + local-exec curl" ;; esac)"
	eval "wall_$kind=$wall"
done
echo "    batch is $(ratio "$wall_single" "$wall_batch") faster than $n single resources and $(ratio "$wall_curl" "$wall_batch") faster than the curl loop"

for layout in batch chunked; do
	dir="$work/$layout-$big"
	setup "$dir" "$big"
	"${layout}_config" >"$dir/main.tf"
	what="1 iotda_batch_command"
	[ "$layout" = chunked ] && what="$(((big + chunk - 1) / chunk)) iotda_batch_command of $chunk devices (for_each)"
	echo
	echo "==> $big devices: $what"
	timed "$dir" apply apply -auto-approve
	printf '    apply          %8s s wall  %8s s CPU   (load %s)\n' "$wall" "$cpu" "$(load)"
	timed "$dir" plan plan
	if ! grep -q "No changes" "$dir/plan.log"; then
		echo "the follow-up plan is not empty:" >&2
		tail -n 20 "$dir/plan.log" >&2
		exit 1
	fi
	printf '    follow-up plan %8s s wall  %8s s CPU   (no changes; load %s)\n' "$wall" "$cpu" "$(load)"
	printf '    state          %s\n' "$(state_kb "$dir")"
done
echo
echo "==> The mock delivered $(grep -c 'command delivered' "$work/mock.log" || true) synchronous commands and ran $(grep -c 'batch task finished' "$work/mock.log" || true) batch tasks;" \
	"its peak RSS was $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$mock_pid/status")"
