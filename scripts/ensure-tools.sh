#!/bin/sh
# ensure-tools.sh COMMAND:PACKAGE ... — make sure each COMMAND is on the PATH,
# installing its Debian PACKAGE with apt-get when it is missing and we can (root,
# apt-get present). It never fails: what cannot be installed is reported, and the
# tests or benchmarks that need it skip or say so.
missing=""
for pair in "$@"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	# /usr/sbin is not on every PATH (nginx lives there).
	command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# A stale package index makes install fail: update once and retry. Both are
	# bounded so that a machine without network does not hang the build.
	timeout 300 apt-get install -y -qq $missing >/dev/null 2>&1 ||
		{ timeout 300 apt-get update -qq >/dev/null 2>&1 &&
			timeout 300 apt-get install -y -qq $missing >/dev/null 2>&1; } ||
		echo "note: could not install$missing; what needs them is skipped"
else
	echo "note: missing$missing (install them as root with apt-get); what needs them is skipped"
fi
exit 0
