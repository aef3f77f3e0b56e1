#!/usr/bin/env bash
# Runs this module's tests against the IoTDA mock server, the way a CI job would: build the
# provider and the mock, start the mock on free ports, wait for its ready line, point the CLI
# at both, run `tofu test` (or `terraform test`), and stop the mock whatever happened.
#
# Usage: examples/testing/run-tests.sh [CLI]
#   CLI is the OpenTofu or Terraform binary (1.6 or newer), `tofu` on PATH by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cli=${1:-tofu}
work=$(mktemp -d)
mock_pid=""

cleanup() {
	if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then
		kill -TERM "$mock_pid" 2>/dev/null || true
		wait "$mock_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "==> Building the provider and the mock server"
mkdir -p "$work/plugins"
(cd "$root" && go build -o "$work/plugins/terraform-provider-iotda" . &&
	go build -o "$work/iotda-mock" ./internal/cmd/iotda-mock)

echo "==> Starting the mock server"
# The mock prints one ready line on stdout once its API and broker listen and every simulated
# device is online; its logs go to stderr.
exec 3< <(exec "$work/iotda-mock" -config "$here/mock-config.json" \
	-http 127.0.0.1:0 -mqtt 127.0.0.1:0 2>"$work/mock.log")
mock_pid=$!
if ! IFS= read -r -t 120 -u 3 ready; then
	echo "the mock server did not start:" >&2
	cat "$work/mock.log" >&2
	exit 1
fi
echo "    $ready"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$ready"; }

# The provider under test comes from the build above (a pipeline testing a module against a
# released provider would leave provider_installation alone and run `init`).
cat >"$work/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "iotdalabs/iotda" = "$work/plugins"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export IOTDA_ENDPOINT IOTDA_PROJECT_ID IOTDA_AUTH_TOKEN=test-token
IOTDA_ENDPOINT=$(field api)
IOTDA_PROJECT_ID=$(field project)

# A copy of the module, so that the run leaves nothing behind in the repository.
cp -R "$here/main.tf" "$here/tests" "$work/"
cd "$work"
echo "==> $cli test"
if ! "$cli" test -no-color; then
	echo "the tests failed; the mock's log:" >&2
	cat "$work/mock.log" >&2
	exit 1
fi
