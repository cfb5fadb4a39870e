#!/usr/bin/env bash
# Install a built wheel into a new venv with node and npm off PATH and run it as a user would:
# `workbench demo`, `python -m workbench`, and JupyterLab / Jupyter Server listing the
# extensions. The wheel is what users get; this proves it is complete on its own.
#
# usage: tools/check_wheel.sh dist/counterfeit_workbench-X.Y.Z-py3-none-any.whl WORKDIR
set -euo pipefail
wheel="$(realpath "$1")"
work="$2"
python="${PYTHON:-python3}"
python="$("$python" -c 'import sys; print(sys.executable)')"
rm -rf "$work"
mkdir -p "$work"

# a bin folder holding everything of the system's but Node.js and its package managers
nonode="$work/bin-without-node"
mkdir -p "$nonode"
for dir in /usr/local/bin /usr/bin /bin; do
  [ -d "$dir" ] || continue
  for tool in "$dir"/*; do
    name="$(basename "$tool")"
    case "$name" in node | nodejs | npm | npx | corepack | yarn | yarnpkg | jlpm) continue ;; esac
    [ -e "$nonode/$name" ] || ln -s "$tool" "$nonode/$name"
  done
done

"$python" -m venv "$work/venv"
export PATH="$work/venv/bin:$nonode"
export VIRTUAL_ENV="$work/venv"
if command -v node >/dev/null || command -v npm >/dev/null; then
  echo "check_wheel: node or npm is still on PATH" >&2
  exit 1
fi

pip install -q "$wheel"
cd "$work"
workbench --version
python -m workbench --version
python -m workbench templates
workbench --quiet demo "$work/demo" | tee "$work/demo.txt"
test -s "$work/demo/map.html"
grep -E "^Verified: bundle .*signature valid" "$work/demo.txt" >/dev/null || {
  echo "the installed wheel's demo did not end in a verified signed bundle" >&2
  exit 1
}

jupyter labextension list 2>&1 | tee "$work/labextension.txt"
grep -E "counterfeit-workbench v[0-9.]+ .*enabled.*OK" "$work/labextension.txt" >/dev/null || {
  echo "check_wheel: JupyterLab does not list the labextension as enabled and OK" >&2
  exit 1
}
jupyter server extension list 2>&1 | tee "$work/serverextension.txt"
grep -E "workbench .*OK" "$work/serverextension.txt" >/dev/null || {
  echo "check_wheel: Jupyter Server does not load the workbench extension" >&2
  exit 1
}
test -f "$work/venv/share/jupyter/labextensions/counterfeit-workbench/install.json"
echo "check_wheel: the wheel installs and runs without Node.js"
