#!/usr/bin/env bash
# make demo: build the provider and the mock, start the mock with a simulated device, apply
# examples/demo with Terraform through dev_overrides, print the result, destroy, stop the mock.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
work=$(mktemp -d)
# shellcheck source=scripts/mock-lib.sh
. "$root/scripts/mock-lib.sh"

cleanup() {
	stop_mock
	rm -rf "$work"
}
trap cleanup EXIT

export CHECKPOINT_DISABLE=1

# terraform_version prints the version of the Terraform CLI $1 (1.5.7), or nothing.
terraform_version() {
	"$1" version -json 2>/dev/null | sed -n 's/^ *"terraform_version": *"\([0-9][0-9.]*\)".*/\1/p' | head -n 1
}

# at_least_1_5 tells whether version $1 is 1.5 or newer.
at_least_1_5() {
	local major minor
	IFS=. read -r major minor _ <<<"$1"
	[ -n "$major" ] && [ -n "$minor" ] && { [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 5 ]; }; }
}

# The Terraform CLI: $TERRAFORM when set, the terraform on PATH when it is 1.5 or newer, and
# otherwise Terraform 1.5.7 built into ./bin (3 to 4 minutes the first time, see README.md).
if [ -n "${TERRAFORM:-}" ]; then
	terraform=$TERRAFORM
	echo "==> Using Terraform $(terraform_version "$terraform") from TERRAFORM=$terraform"
elif found=$(command -v terraform) && version=$(terraform_version "$found") && at_least_1_5 "$version"; then
	terraform=$found
	echo "==> Using Terraform $version from PATH ($terraform)"
else
	terraform=$bin/terraform
	if [ -n "${found:-}" ]; then
		echo "==> The terraform on PATH ($found) is ${version:-of an unknown version}, older than 1.5"
	fi
	if [ ! -x "$terraform" ]; then
		echo "==> Building Terraform 1.5.7 into ./bin: 3 to 4 minutes the first time"
		make -C "$root" --no-print-directory "$terraform"
	fi
	echo "==> Using Terraform $(terraform_version "$terraform") from $terraform"
fi

build_provider_and_mock

echo "==> Starting the IoTDA mock server with the simulated device demo-lamp"
start_mock "$root/examples/demo/mock-config.json" 60

use_built_provider
export IOTDA_ENDPOINT="$api" IOTDA_PROJECT_ID=demo-project IOTDA_AUTH_TOKEN=demo-token
cp "$root/examples/demo/main.tf" "$work/main.tf"
cd "$work"

echo "==> terraform apply"
if ! "$terraform" apply -auto-approve -input=false -no-color; then
	echo "terraform apply failed; the mock's log:" >&2
	cat "$work/mock.log" >&2
	exit 1
fi
echo
echo "==> Result"
echo "command id:   $("$terraform" output -raw command_id 2>/dev/null)"
echo "device reply: $("$terraform" output -raw device_reply 2>/dev/null)"

echo
echo "==> The mock's delivery log (the command travelled over MQTT to the simulated device)"
# The mock writes its log out every 100 ms, so the line may not be in the file yet.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -qi deliver "$work/mock.log" && break
	sleep 0.2
done
grep -i deliver "$work/mock.log" | tail -n 5 || true

echo
echo "==> terraform destroy (forgets the command; nothing is sent to the device)"
"$terraform" destroy -auto-approve -input=false -no-color >/dev/null 2>&1
echo "    destroyed"
echo "==> Stopping the mock server"
