#!/usr/bin/env bash
# Set up everything the course needs on a fresh Debian machine with Python 3:
#   1. Debian packages (a CJK font for Chinese plot titles, the sandbox tool, Chromium for
#      the browser tests, which Playwright drives: never a browser downloaded by Playwright,
#      PostgreSQL for the tests of the optional PostgreSQL gradebook), via apt-get;
#   2. a virtual environment in .venv with the pinned Python packages of requirements.lock;
#   3. the course package (dustcourse) installed in editable mode;
#   4. the course's JupyterHub (docs/hub.md): its proxy from npm (package-lock.json, `npm ci`)
#      and the trial accounts of `make hub` and the hub test, real Unix users with private
#      homes and no usable password until the hub sets a random one (dustcourse/hub.py).
# Called by `make`; safe to re-run. Nothing is fetched except from Debian, PyPI and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
DEBIAN_PACKAGES=(fonts-noto-cjk bubblewrap chromium postgresql acl)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3 -m venv needs Debian's python3-venv when Python comes from Debian.
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
# Node.js and npm run the hub's proxy (configurable-http-proxy); a Node.js that brings
# its own npm (another distribution's package) is kept as it is.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
echo "setup: installing pinned Python packages from requirements.lock"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.lock
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
# The kernel the book, the students' JupyterLab and the graders execute notebooks with is
# the venv's own. It reads the course's matplotlibrc (fonts with Chinese glyphs), so a
# student's plot shows 汉字 without any set-up in the notebook.
MPLRC=$("$VENV/bin/python" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('dustcourse').origin).with_name('matplotlibrc'))")
test -f "$MPLRC"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dustcourse)" \
  --env MATPLOTLIBRC "$MPLRC" >/dev/null
echo "setup: installing the hub's proxy from package-lock.json"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
test -x node_modules/.bin/configurable-http-proxy
# The hub's trial accounts (names in dustcourse/hub.py, HUB_STUDENTS): home 0700, so no
# one else reads a student's work; the password stays locked until the hub starts.
for user in dust-student1 dust-student2; do
  if ! id -u "$user" >/dev/null 2>&1; then
    echo "setup: creating the hub's trial account $user"
    "${SUDO[@]}" useradd --create-home --shell /bin/bash --comment "dustcourse hub trial" "$user"
  fi
  "${SUDO[@]}" chmod 0700 "$(getent passwd "$user" | cut -d: -f6)"
done
# Each student's JupyterLab runs as that student from this environment: they must reach
# the Python the venv was made from (pyenv's lives under /root, closed to others) and the
# course. Where a folder on the way is closed, these accounts alone may pass through it
# (an ACL with x only: no listing, nothing else of the folder opened).
for target in "$(readlink -f "$VENV/bin/python")" "$PWD/$VENV/bin/python"; do
  path=""
  IFS=/ read -ra parts <<<"${target#/}"
  for part in "${parts[@]:0:${#parts[@]}-1}"; do
    path="$path/$part"
    for user in dust-student1 dust-student2; do
      if ! "${SUDO[@]}" runuser -u "$user" -- test -x "$path"; then
        echo "setup: letting $user through $path (ACL u:$user:x) to reach the course environment"
        "${SUDO[@]}" setfacl -m "u:$user:x" "$path"
      fi
    done
  done
done
touch "$VENV/.installed"
echo "setup: done ($VENV)"
