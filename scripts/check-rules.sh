#!/usr/bin/env bash
# Checks the rules of docs/ARCHITECTURE.md that a grep can check:
#  - layering: no module imports a project module the architecture forbids it (the worlds
#    meet only through register frames and physical memory, wired together by VTEEKit);
#  - no `try!`, `as!`, `fatalError(`, `precondition(` or `preconditionFailure(` in Sources.
# Prints every violation and exits 1 if there is any. Run from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Project modules each module must never import (the rules of docs/ARCHITECTURE.md; which
# modules a target may import at all is Package.swift's business). "*" = every other project
# module (the foundation layers import nothing above them).
declare -A forbidden=(
    [TEEABI]="*"
    [SignedTA]="Machine TAAPI SecureWorld TrustedApps Mediator Platform NormalWorld TEEClient Supplicant Transport TADevKit VTEEKit vtee"
    [TADevKit]="Machine TAAPI SecureWorld TrustedApps Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee"
    [TAAPI]="Machine SecureWorld TrustedApps Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee CShim"
    [Machine]="TAAPI SecureWorld TrustedApps Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee"
    [SecureWorld]="Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee"
    [TrustedApps]="SecureWorld Machine CShim Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee"
    [Mediator]="SecureWorld TAAPI TrustedApps NormalWorld TEEClient Supplicant VTEEKit vtee"
    [Platform]="SecureWorld TAAPI TrustedApps Mediator NormalWorld TEEClient Supplicant VTEEKit vtee"
    [NormalWorld]="SecureWorld TAAPI TrustedApps Mediator Platform TEEClient Supplicant VTEEKit vtee"
    [TEEClient]="SecureWorld TAAPI TrustedApps Mediator Platform Supplicant Transport TEEClientRemote VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [TEEClientRemote]="SecureWorld TAAPI TrustedApps Mediator Platform VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [Supplicant]="SecureWorld TAAPI TrustedApps Mediator Platform VTEEKit vtee"
    [Transport]="SecureWorld TAAPI TrustedApps VTEEKit vtee"
    [CShim]=""
    [TAChannel]="*"
    [vteeta]="*"
    [vtee-ta-host]="*"
    [TAHostShim]="*"
    [TACrypto]="*"
    [TAHost]="SecureWorld Mediator Platform NormalWorld TEEClient Supplicant Transport VTEEKit vtee TrustedApps"
    [CAllocCount]=""
    [MediatedPlatform]="SecureWorld TrustedApps NormalWorld TEEClient Supplicant Transport VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [VTEEKit]="VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [VTEEDaemon]="VTEEDemo VTEEAttack VTEEBench vtee"
    [VTEEDemo]="VTEEAttack VTEEBench vtee"
    [VTEEAttack]="NormalWorld TEEClient Supplicant Transport VTEEKit VTEEDaemon VTEEDemo VTEEBench vtee"
    [VTEEBench]="VTEEAttack vtee"
    [CTEEDev]=""
    [CTEEC]=""
    [CVTEEPreload]=""
    [TEEDevice]="SecureWorld TAAPI TrustedApps Mediator Platform MediatedPlatform VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [TEECLibrary]="SecureWorld TAAPI TrustedApps Mediator Platform MediatedPlatform VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [VTEEPreloadLibrary]="SecureWorld TAAPI TrustedApps Mediator Platform MediatedPlatform VTEEKit VTEEDaemon VTEEDemo VTEEAttack VTEEBench vtee"
    [vtee]=""
)

project_modules=$(ls Sources)
status=0

for dir in Sources/*/; do
    module=$(basename "$dir")
    if [[ -z "${forbidden[$module]+set}" ]]; then
        echo "layering: module $module has no rule in scripts/check-rules.sh"
        status=1
        continue
    fi
    while IFS=: read -r file line text; do
        imported=$(sed -E 's/^\s*(@[A-Za-z_]+(\([^)]*\))? )*import (typealias |struct |class |enum |protocol |let |var |func )?([A-Za-z_]+).*/\4/' <<<"$text")
        grep -qx "$imported" <<<"$project_modules" || continue      # external module
        [[ "$imported" == "$module" ]] && continue
        if [[ "${forbidden[$module]}" == "*" ]] || grep -qw "$imported" <<<"${forbidden[$module]}"; then
            echo "layering: $file:$line: $module must not import $imported"
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
