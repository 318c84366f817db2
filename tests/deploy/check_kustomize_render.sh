#!/usr/bin/env bash
# `kubectl kustomize deploy/kubernetes` renders offline, and the rendered
# objects are what docs/deploy.md says (rendered_objects.py check).
#
# usage: check_kustomize_render.sh KUSTOMIZE_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) without kubectl: it is not a Debian
# package, and a test that cannot render must not pass.
set -euo pipefail

readonly kustomize_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
readonly here

if ! command -v kubectl >/dev/null; then
  echo "SKIP: kubectl (with kustomize) is not installed; it is not a Debian package"
  exit 77
fi

work=$(mktemp -d /tmp/sprout-test-deploy-render-XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 143' TERM INT

# No cluster is asked: kustomize reads only the directory.
KUBECONFIG=/dev/null kubectl kustomize "$kustomize_dir" >"$work/rendered.yaml"
/usr/bin/python3 "$here/rendered_objects.py" check "$work/rendered.yaml"
