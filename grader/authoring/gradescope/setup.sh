#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (Ubuntu 22.04, whose python3 is Python 3.10).
set -euo pipefail
cd "$(dirname "$0")"

# python3-pip: to install the pinned packages. bubblewrap: the namespaces each worker runs
# in, where the container allows them (the grader probes, and falls back to the sandbox user).
need=()
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v bwrap >/dev/null || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# Pinned runtime dependencies, installed system-wide so that the unprivileged
# user that runs student code can import NumPy too.
python3 -m pip install --no-cache-dir -r requirements.txt
# Compile the grader once here, so that grading each submission does not.
python3 -m compileall -q grader

# The user that student code runs as: no home, no login, no access to /autograder/source.
if ! id bpgrader >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group bpgrader
fi
