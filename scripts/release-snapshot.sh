#!/usr/bin/env bash
# make release-snapshot: builds what a release holds into ./dist with GoReleaser (the
# configuration is .goreleaser.yml), as a snapshot: nothing is published, and the SHA256SUMS
# is signed only when GPG_FINGERPRINT names a key. The version is a prerelease,
# 0.0.0-snapshot-<commit> until the repository has a v* tag.
#
# RELEASE_TARGETS restricts every build to a list of GoReleaser targets, such as
# "linux_amd64" or "linux_amd64,darwin_arm64"; "host" is this machine's platform. GoReleaser's
# release command has no option for that (`goreleaser build --single-target` builds no
# archives), so the script writes a copy of the configuration whose `targets:` lists hold
# only those, and fails if the copy does not have the builds' lists it expects.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
goreleaser=${GORELEASER:-$root/bin/goreleaser}
cd "$root"

config=.goreleaser.yml
if [ -n "${RELEASE_TARGETS:-}" ]; then
	targets=$RELEASE_TARGETS
	if [ "$targets" = host ]; then
		targets="$(go env GOOS)_$(go env GOARCH)"
	fi
	config=$(mktemp "${TMPDIR:-/tmp}/goreleaser.XXXXXX.yml")
	trap 'rm -f "$config"' EXIT
	# Every `targets:` line (a block list or an alias of one) becomes a flow list of the
	# targets, and the items of a block list after it are dropped.
	if ! awk -v list="$targets" '
		skipping && /^[[:space:]]*- / { match($0, /^[[:space:]]*/); if (RLENGTH > indent) next }
		{ skipping = 0 }
		/^[[:space:]]*targets:/ {
			match($0, /^[[:space:]]*/); indent = RLENGTH
			gsub(/,/, ", ", list)
			print substr($0, 1, indent) "targets: [" list "]"
			skipping = 1; replaced++; next
		}
		{ print }
		END { if (replaced != 3) { print "expected the targets of 3 builds in .goreleaser.yml, found " replaced > "/dev/stderr"; exit 1 } }
	' .goreleaser.yml >"$config"; then
		echo "release-snapshot: cannot restrict .goreleaser.yml to $targets" >&2
		exit 1
	fi
	echo "==> Building for $targets only"
fi

# GoReleaser reads the commit (the snapshot's name and the files' timestamps) only when
# `git ls-remote --get-url` names a remote. A clone has one; a repository made with git init
# has none, and every snapshot would be 0.0.0-snapshot-none. For this run only, the
# repository then names itself as its remote, through git's GIT_CONFIG_* environment.
if ! git ls-remote --get-url >/dev/null 2>&1; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0="$root"
fi

skip=publish
if [ -z "${GPG_FINGERPRINT:-}" ]; then
	skip=publish,sign
	echo "==> GPG_FINGERPRINT is not set: the SHA256SUMS is not signed"
fi
"$goreleaser" release --snapshot --clean --skip="$skip" --config "$config"

echo "==> dist/"
(cd dist && ls -1 ./*.zip ./*.tar.gz ./*_SHA256SUMS* ./*_manifest.json 2>/dev/null | sed 's|^\./|    |')
