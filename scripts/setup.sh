#!/usr/bin/env bash
# Set up everything the course needs on a fresh Debian machine with Python 3:
#   1. Debian packages (a CJK font for Chinese plot titles, the sandbox tool, Chromium for
#      the browser tests, which Playwright drives: never a browser downloaded by Playwright,
#      PostgreSQL for the tests of the optional PostgreSQL gradebook), via apt-get;
#   2. a virtual environment in .venv with the pinned Python packages of requirements.lock;
#   3. the course package (dustcourse) installed in editable mode.
# Called by `make`; safe to re-run. Nothing is fetched except from Debian and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
DEBIAN_PACKAGES=(fonts-noto-cjk bubblewrap chromium postgresql)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3 -m venv needs Debian's python3-venv when Python comes from Debian.
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
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
touch "$VENV/.installed"
echo "setup: done ($VENV)"
