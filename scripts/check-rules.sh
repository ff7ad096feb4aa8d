#!/usr/bin/env bash
# Checks the rules of docs/ARCHITECTURE.md that a grep can check:
#  - layering: each module imports only the project modules it may (the worlds meet only
#    through register frames and physical memory, wired together by VTEEKit);
#  - no `try!`, `as!`, `fatalError(`, `precondition(` or `preconditionFailure(` in Sources.
# Prints every violation and exits 1 if there is any. Run from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Project modules each module may import (external modules such as Glibc, Foundation,
# Logging or Crypto are not restricted here; Package.swift decides those).
declare -A allowed=(
    [CShim]=""
    [TEEABI]=""
    [Machine]="TEEABI CShim"
    [SecureWorld]="TEEABI Machine"
    [TrustedApps]="SecureWorld TEEABI"
    [Mediator]="TEEABI Machine"
    [Platform]="TEEABI Machine"
    [NormalWorld]="TEEABI Machine"
    [TEEClient]="NormalWorld TEEABI Machine"
    [Supplicant]="NormalWorld TEEABI Machine"
    [Transport]="TEEABI Machine CShim"
    [VTEEKit]="*"
    [vtee]="*"
)

project_modules=$(ls Sources)
status=0

for dir in Sources/*/; do
    module=$(basename "$dir")
    if [[ -z "${allowed[$module]+set}" ]]; then
        echo "layering: module $module has no rule in scripts/check-rules.sh"
        status=1
        continue
    fi
    [[ "${allowed[$module]}" == "*" ]] && continue
    while IFS=: read -r file line text; do
        imported=$(sed -E 's/^\s*(@[A-Za-z_]+(\([^)]*\))? )*import (typealias |struct |class |enum |protocol |let |var |func )?([A-Za-z_]+).*/\4/' <<<"$text")
        grep -qx "$imported" <<<"$project_modules" || continue      # external module
        [[ "$imported" == "$module" ]] && continue
        if ! grep -qw "$imported" <<<"${allowed[$module]}"; then
            echo "layering: $file:$line: $module may not import $imported"
            status=1
        fi
    done < <(grep -rnE '^\s*(@[A-Za-z_]+(\([^)]*\))? )*import ' "$dir" --include='*.swift' || true)
done

# Constructs that trap on bad input.
if grep -rnE 'try!|[^A-Za-z_]as! |fatalError\(|preconditionFailure\(|(^|[^A-Za-z_.])precondition\(' Sources --include='*.swift'; then
    echo "forbidden: the lines above trap (use the defined error code instead)"
    status=1
fi

if [[ $status -eq 0 ]]; then echo "rules: layering and trap checks passed"; fi
exit $status
