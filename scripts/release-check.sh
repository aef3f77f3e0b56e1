#!/usr/bin/env bash
# make release-check: proves the release in ./dist (make release-snapshot) installs and works
# as a user would get it, without dev_overrides:
#
#   1. checks dist: every file of the SHA256SUMS, the registry manifest, the provider binary in
#      each zip (internal/cmd/release-check dist);
#   2. lays the provider zips out as a filesystem mirror, in the packed layout, for both
#      registry.terraform.io/iotdalabs/iotda and registry.opentofu.org/iotdalabs/iotda;
#   3. for Terraform and for OpenTofu: copies examples/demo into an empty directory, pins the
#      release's version, runs a plain `init` with a CLI configuration that has only that
#      filesystem_mirror, and checks the lock file's hashes against the zips (h1: the dirhash of
#      a zip's contents, zh: its SHA-256 in the SHA256SUMS);
#   4. starts the mock server released in dist (unpacked from its archive) with the demo's
#      devices (the archive's demo-config.json), applies the demo, checks the device's reply and
#      the mock's journal (one command, sent by the released provider's version), destroys, and
#      stops the mock;
#   5. installs the release again through a network mirror (internal/cmd/release-check serves
#      the zips over HTTPS with a certificate of its own), whose index gives each zip's zh: hash
#      from the SHA256SUMS: the CLI checks the download against it (OpenTofu 1.12.6 records it in
#      the lock file, which is checked again; Terraform 1.5.7 records only the h1: hash it
#      computes), and refuses the same release from a mirror that gives wrong zh: hashes.
#
# Any mismatch stops it with an error. TERRAFORM and TOFU name the CLIs (./bin by default).
#
# The snapshot's version (0.0.0-snapshot-<commit>) is a prerelease. Terraform and OpenTofu
# select a prerelease only when a version constraint names it exactly, so the check pins it in
# an override file beside the demo (release_override.tf: version = "<that version>"). Both
# read a version from a mirror in lower case, which is why the snapshot's is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
terraform=${TERRAFORM:-$root/bin/terraform}
tofu=${TOFU:-$root/bin/tofu}
work=$(mktemp -d)
# shellcheck source=scripts/mock-lib.sh
. "$root/scripts/mock-lib.sh"

mirror_pids=()
cleanup() {
	stop_mock
	for pid in "${mirror_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "release-check: $*" >&2
	exit 1
}

echo "==> Checking the release in dist/"
go build -o "$work/release-check" "$root/internal/cmd/release-check"
"$work/release-check" dist "$root/dist" "$root/terraform-registry-manifest.json" | tee "$work/dist.txt"
field() { sed -n "s/^$1=//p" "$work/dist.txt"; }
version=$(field version)
mock_archive=$(field mock_archive)
[ -n "$version" ] && [ -n "$mock_archive" ] || fail "the release check printed no version or mock archive"

echo "==> Laying the provider zips out as a filesystem mirror"
for host in registry.terraform.io registry.opentofu.org; do
	mkdir -p "$work/mirror/$host/iotdalabs/iotda"
	cp "$root"/dist/terraform-provider-iotda_"$version"_*.zip "$work/mirror/$host/iotdalabs/iotda/"
done
(cd "$work/mirror" && find . -name '*.zip' | sort | sed 's|^\./|    |')
cat >"$work/cli.tfrc" <<TFRC
# Only the mirror: no registry, no dev_overrides.
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.terraform.io/iotdalabs/iotda", "registry.opentofu.org/iotdalabs/iotda"]
  }
}
TFRC

# start_mirror NAME FD [wrong-zh]: serves dist as a network mirror, reading its ready line on
# file descriptor FD, 4 or 5 (bash 3.2, macOS's, cannot allocate one), and writes
# $work/NAME.tfrc, a CLI configuration with only that mirror, and $work/NAME-ca.pem, the
# certificate to trust.
start_mirror() {
	local name=$1 fd=$2 line
	case $fd in
	4) exec 4< <(exec "$work/release-check" mirror "$root/dist" "$work/$name-ca.pem" "${@:3}" 2>"$work/$name.log") ;;
	5) exec 5< <(exec "$work/release-check" mirror "$root/dist" "$work/$name-ca.pem" "${@:3}" 2>"$work/$name.log") ;;
	*) fail "start_mirror: file descriptor $fd is not 4 or 5" ;;
	esac
	mirror_pids+=($!)
	if ! IFS= read -r -t 30 -u "$fd" line; then
		fail "the network mirror $name did not start: $(cat "$work/$name.log")"
	fi
	echo "    $name: ${line#mirror=}"
	cat >"$work/$name.tfrc" <<TFRC
# Only the network mirror: no registry, no dev_overrides.
provider_installation {
  network_mirror {
    url     = "${line#mirror=}"
    include = ["registry.terraform.io/iotdalabs/iotda", "registry.opentofu.org/iotdalabs/iotda"]
  }
}
TFRC
}
echo "==> Serving the provider zips as network mirrors over HTTPS, with the right and with wrong zh: hashes"
start_mirror net 4
start_mirror net-wrong 5 wrong-zh

echo "==> Unpacking the released mock server ($(basename "$mock_archive"))"
mkdir -p "$work/mock-release"
tar -xzf "$mock_archive" -C "$work/mock-release"
mv "$work/mock-release/iotda-mock" "$work/iotda-mock"
for f in example-config.json demo-config.json; do
	[ -f "$work/mock-release/$f" ] || fail "the mock's archive lacks $f"
done

# The CLIs see only this configuration: nothing of the caller's TF_* settings.
unset TF_PLUGIN_CACHE_DIR TF_CLI_ARGS TF_CLI_ARGS_init TF_DATA_DIR TF_LOG TF_LOG_PATH
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# check_cli NAME CLI HOST: init from the mirror, check the lock file, apply and destroy the demo.
check_cli() {
	local name=$1 cli=$2 host=$3 dir="$work/$1" start=$SECONDS reply
	echo
	echo "==> $name ($("$cli" version | head -n 1)): init from the mirror"
	mkdir -p "$dir"
	cp "$root/examples/demo/main.tf" "$dir/"
	cat >"$dir/release_override.tf" <<HCL
# A prerelease is selected only when named exactly.
terraform {
  required_providers {
    iotda = {
      source  = "iotdalabs/iotda"
      version = "$version"
    }
  }
}
HCL
	cd "$dir"
	"$cli" init -input=false -no-color >"$work/$name-init.txt" 2>&1 || fail "$name init failed:
$(cat "$work/$name-init.txt")"
	sed 's/^/    /' "$work/$name-init.txt"
	grep -q "iotdalabs/iotda v$version" "$work/$name-init.txt" ||
		fail "$name init did not install iotdalabs/iotda v$version"
	echo "==> $name: the lock file's hashes against the zips"
	"$work/release-check" lock "$root/dist" .terraform.lock.hcl "$host"

	echo "==> $name: apply the demo against the released mock"
	start_mock "$work/mock-release/demo-config.json" 60 # the archive's copy of examples/demo/mock-config.json
	export IOTDA_ENDPOINT="$api" IOTDA_PROJECT_ID=demo-project IOTDA_AUTH_TOKEN=demo-token
	"$cli" apply -auto-approve -input=false -no-color >"$work/$name-apply.txt" 2>&1 || fail "$name apply failed:
$(cat "$work/$name-apply.txt")
the mock's log:
$(cat "$work/mock.log")"
	reply=$("$cli" output -raw device_reply)
	echo "    command_id=$("$cli" output -raw command_id) device_reply=$reply"
	case $reply in
	*'"brightness":80'*'"value":"ON"'*) ;;
	*) fail "$name: the device's reply $reply is not the echo of the demo's paras" ;;
	esac
	"$work/release-check" journal "$api" "$version" demo-lamp
	"$cli" destroy -auto-approve -input=false -no-color >"$work/$name-destroy.txt" 2>&1 || fail "$name destroy failed:
$(cat "$work/$name-destroy.txt")"
	echo "    destroyed"
	stop_mock
	mock_pid=""

	echo "==> $name: init from the network mirror"
	mkdir -p "$dir-net" "$dir-net-wrong"
	cp "$dir/main.tf" "$dir/release_override.tf" "$dir-net/"
	cp "$dir/main.tf" "$dir/release_override.tf" "$dir-net-wrong/"
	cd "$dir-net"
	SSL_CERT_FILE="$work/net-ca.pem" TF_CLI_CONFIG_FILE="$work/net.tfrc" \
		"$cli" init -input=false -no-color >"$work/$name-net-init.txt" 2>&1 || fail "$name init from the network mirror failed:
$(cat "$work/$name-net-init.txt")"
	grep -q "iotdalabs/iotda v$version" "$work/$name-net-init.txt" ||
		fail "$name init did not install iotdalabs/iotda v$version from the network mirror"
	"$work/release-check" lock "$root/dist" .terraform.lock.hcl "$host"
	echo "==> $name: init from a network mirror with wrong zh: hashes must fail"
	cd "$dir-net-wrong"
	if SSL_CERT_FILE="$work/net-wrong-ca.pem" TF_CLI_CONFIG_FILE="$work/net-wrong.tfrc" \
		"$cli" init -input=false -no-color >"$work/$name-net-wrong-init.txt" 2>&1; then
		fail "$name installed the provider from a mirror whose zh: hashes are wrong"
	fi
	grep -q "doesn't match the expected checksum" "$work/$name-net-wrong-init.txt" ||
		fail "$name init failed, but not on the checksum:
$(cat "$work/$name-net-wrong-init.txt")"
	echo "    refused: $(grep -o "doesn't match the expected checksum" "$work/$name-net-wrong-init.txt" | head -n 1)"
	cd "$root"
	echo "==> $name: $((SECONDS - start)) s"
}

check_cli terraform "$terraform" registry.terraform.io
check_cli tofu "$tofu" registry.opentofu.org
echo
echo "==> The release $version installs from a filesystem and a network mirror and applies the demo with Terraform and OpenTofu"
