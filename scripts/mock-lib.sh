# Sourced by demo.sh and bench-fleet.sh, which set root (the repository) and work (a
# scratch directory) first: build the provider and the mock server into $work, start the mock
# on free ports and wait for its ready line, point Terraform at the provider just built, and
# stop the mock again.

mock_pid=""

# build_provider_and_mock builds $work/plugins/terraform-provider-iotda and $work/iotda-mock.
build_provider_and_mock() {
	echo "==> Building the provider and the mock server"
	mkdir -p "$work/plugins"
	go build -o "$work/plugins/terraform-provider-iotda" "$root"
	go build -o "$work/iotda-mock" "$root/internal/cmd/iotda-mock"
}

# start_mock CONFIG SECONDS starts the mock with the configuration file CONFIG, its log in
# $work/mock.log, waits at most SECONDS for its ready line, and sets mock_pid, ready (the
# line) and api (the command API's URL). It exits the script when the mock does not start.
# MOCK_LATENCY (a Go duration such as 100ms), when set, is passed as -latency: every answer
# of the platform API then comes that long after its request, as from a distant IoTDA.
start_mock() {
	# The mock prints one ready line on stdout once its API and broker listen and every
	# simulated device is online; its logs go to stderr.
	exec 3< <(exec "$work/iotda-mock" -config "$1" -http 127.0.0.1:0 -mqtt 127.0.0.1:0 \
		${MOCK_LATENCY:+-latency "$MOCK_LATENCY"} 2>"$work/mock.log")
	mock_pid=$!
	if ! IFS= read -r -t "$2" -u 3 ready; then
		echo "the mock server did not start:" >&2
		cat "$work/mock.log" >&2
		exit 1
	fi
	echo "    $ready"
	api=$(sed -n 's/.*api=\([^ ]*\).*/\1/p' <<<"$ready")
}

# stop_mock stops the mock start_mock started, if it still runs.
stop_mock() {
	if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then
		kill -TERM "$mock_pid" 2>/dev/null || true
		wait "$mock_pid" 2>/dev/null || true
	fi
}

# use_built_provider makes Terraform use the provider just built, through dev_overrides,
# without a registry.
use_built_provider() {
	cat >"$work/terraformrc" <<TFRC
provider_installation {
  dev_overrides {
    "iotdalabs/iotda" = "$work/plugins"
  }
  direct {}
}
TFRC
	export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
}
