#!/usr/bin/env bash
# Runs this module's tests against the IoTDA mock server, the way a CI job would: build the
# provider and the mock, start the mock on free ports, wait for its ready line, point the CLI
# at both, run `tofu test` (or `terraform test`), and stop the mock whatever happened.
#
# Usage: examples/testing/run-tests.sh [CLI]
#   CLI is the OpenTofu or Terraform binary, `tofu` on PATH by default: OpenTofu 1.8 or
#   Terraform 1.7 or newer, for the mocked provider of tests/lamps_mocked.tftest.hcl (test files
#   need 1.6). The script refuses an older one: Terraform 1.5 prints "No tests defined" and
#   succeeds without running anything. It also fails unless every run block of tests/ passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cli=${1:-tofu}

# The CLI as an absolute path, since the tests run in another directory: bin/tofu relative to
# where the script was started, or a name looked up on PATH (whose entries may be relative).
if ! resolved=$(command -v -- "$cli"); then
	echo "run-tests.sh: cannot find $cli: name an OpenTofu or Terraform binary (a path, or a command on PATH)" >&2
	exit 2
fi
if [[ $resolved != /* ]]; then
	resolved=$(cd "$(dirname -- "$resolved")" && pwd)/$(basename -- "$resolved")
fi
cli=$resolved

# The test files, checked first: a run with none would pass without testing anything.
shopt -s nullglob
test_files=("$here"/tests/*.tftest.hcl)
shopt -u nullglob
if [ ${#test_files[@]} -eq 0 ]; then
	echo "run-tests.sh: $here/tests holds no .tftest.hcl file: there is nothing to test" >&2
	exit 1
fi
want=$(cat "${test_files[@]}" | grep -cE '^[[:space:]]*run[[:space:]]+"' || true)
if [ "$want" -eq 0 ]; then
	echo "run-tests.sh: the .tftest.hcl files of $here/tests declare no run block: there is nothing to test" >&2
	exit 1
fi

# The CLI's name and version, from the line "Terraform v1.5.7" or "OpenTofu v1.12.6".
first=$("$cli" version 2>/dev/null | grep -E '^(Terraform|OpenTofu) v' || true)
first=${first%%$'\n'*}
if [ -z "$first" ]; then
	echo "run-tests.sh: cannot run $cli: name an OpenTofu or Terraform binary" >&2
	exit 2
fi
product=${first%% v*}
version=${first##* v}
IFS=. read -r major minor _ <<<"$version"
case $product in
OpenTofu) need_minor=8 ;;  # mock_provider came with OpenTofu 1.8
Terraform) need_minor=7 ;; # and with Terraform 1.7; .tftest.hcl files with 1.6
esac
if ! [ "$major" -gt 1 ] 2>/dev/null && ! { [ "$major" -eq 1 ] && [ "$minor" -ge "$need_minor" ]; }; then
	echo "run-tests.sh: $cli is $product $version, too old for these tests: they need $product 1.$need_minor" \
		"or newer. $product runs .tftest.hcl files from 1.6 (mock_provider from 1.$need_minor); Terraform 1.5" \
		"prints \"No tests defined\" and succeeds without running any test." >&2
	exit 2
fi

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
if ! "$cli" test -no-color | tee "$work/test.log"; then
	if [ -s "$work/mock.log" ]; then
		echo "run-tests.sh: $cli test failed; the mock's log:" >&2
		cat "$work/mock.log" >&2
	else
		echo "run-tests.sh: $cli test failed (the mock logged nothing)" >&2
	fi
	exit 1
fi

# Exit status 0 is not enough: a CLI that finds no test file, or skips runs, succeeds too.
# Every run block of tests/ must have passed.
passed=$(sed -n 's/^Success! \([0-9][0-9]*\) passed, 0 failed.*/\1/p' "$work/test.log" | tail -n 1)
if [ "${passed:-0}" -ne "$want" ]; then
	echo "run-tests.sh: ${passed:-no} test run(s) passed, but tests/ declares $want: nothing may be skipped" >&2
	exit 1
fi
echo "==> all $passed runs passed"
