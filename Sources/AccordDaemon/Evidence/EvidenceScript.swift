/// `verify.sh` of an evidence bundle: checks it with a POSIX shell and the `openssl` command
/// alone (plus `od`, `awk`, `tr`, `grep`, which POSIX requires), so anyone can run it without
/// Accord. Every failure is one `FAIL:` line that names the file and what does not hold.
enum EvidenceScript {
    static let text = #"""
        #!/bin/sh
        # Checks this Accord evidence bundle with a POSIX shell and openssl only (see README.txt).
        # Exit status: 0 if everything holds, 1 if anything does not (each FAIL line says what).
        set -u
        cd "$(dirname "$0")" || exit 2
        command -v openssl >/dev/null 2>&1 || { echo "FAIL: the openssl command is needed"; exit 2; }
        failures=0
        work=$(mktemp -d) || exit 2
        trap 'rm -rf "$work"' EXIT
        tab=$(printf '\t')
        fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
        hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
        # r || s of a DER signature, in lower-case hex (64 digits each).
        raw_signature() {
            openssl asn1parse -inform DER -in "$1" 2>/dev/null | awk -F: '/INTEGER/ {
                v = $NF; while (length(v) > 64 && substr(v, 1, 2) == "00") v = substr(v, 3)
                while (length(v) < 64) v = "0" v
                printf "%s", tolower(v) }'
        }
        # Does FILE.sig verify FILE.msg with a CA-issued certificate of NODE?
        signed_by() {
            node=$1; message=$2; signature=$3
            for certificate in $(awk -F "$tab" -v node="$node" '$2 == node { print $1 }' certificates/index); do
                grep -qxF "$certificate" "$work/trusted" 2>/dev/null || continue
                openssl x509 -in "certificates/$certificate" -pubkey -noout > "$work/key.pem" 2>/dev/null || continue
                if openssl dgst -sha256 -verify "$work/key.pem" -signature "$signature" "$message" >/dev/null 2>&1; then return 0; fi
            done
            return 1
        }

        agreement=$(cat agreement)
        echo "Agreement $agreement"
        : > "$work/trusted"

        # 1. Each author certificate: issued by the consortium CA, to the node it is listed for.
        while IFS="$tab" read -r certificate node; do
            [ -n "$certificate" ] || continue
            file="certificates/$certificate"
            if ! openssl verify -CAfile ca.pem "$file" >/dev/null 2>&1; then
                fail "$file ($node) was not issued by the consortium CA in ca.pem"
                continue
            fi
            subject=$(openssl x509 -in "$file" -noout -subject -nameopt RFC2253 | sed 's/^subject= *//')
            organisation=${node%%/*}
            name=${node#*/}
            if printf '%s\n' "$subject" | tr ',' '\n' | grep -qxF "O=$organisation" \
                && printf '%s\n' "$subject" | tr ',' '\n' | grep -qxF "CN=$name"; then
                echo "ok: $file is $node's certificate, issued by the consortium CA"
                echo "$certificate" >> "$work/trusted"
            else
                fail "$file is listed as $node's but names $subject"
            fi
        done < certificates/index

        # 2. Each change: the exact bytes its author signed, with the author's valid signature.
        while IFS="$tab" read -r sequence author stamped change; do
            [ -n "$sequence" ] || continue
            if signed_by "$author" "changes/$sequence.msg" "changes/$sequence.sig"; then
                echo "ok: change $sequence ($change), stamped $stamped, is signed by $author"
            else
                fail "changes/$sequence.msg: no certificate of $author verifies its signature (the change was altered, or not signed by $author)"
            fi
        done < changes/index

        # 3. Each approval: of this agreement and of the terms in the bundle, signed by the approving
        #    node of the approving organisation, and part of the change that carried it.
        agreement_hex=$(printf '%s' "$agreement" | tr -d '-' | tr 'A-F' 'a-f')
        prefix_hex=$(printf 'accord/approval/v1\n' > "$work/prefix"; hex "$work/prefix")
        while IFS="$tab" read -r number organisation node stamped terms_hash sequence; do
            [ -n "$number" ] || continue
            base="approvals/$number"
            ok=1
            if [ "${node%%/*}" != "$organisation" ]; then fail "$base: $node is not a node of $organisation"; ok=0; fi
            if [ ! -f "$base.terms" ]; then
                fail "$base.terms is missing: the terms this approval covers are not in the bundle"; ok=0
            else
                actual=$(openssl dgst -sha256 -r "$base.terms" | cut -d ' ' -f 1)
                if [ "$actual" != "$terms_hash" ]; then
                    fail "$base.terms hashes to $actual, not to the approved terms hash $terms_hash (the terms were altered)"; ok=0
                fi
            fi
            if [ "$(hex "$base.msg")" != "$prefix_hex$agreement_hex$terms_hash" ]; then
                fail "$base.msg is not an approval of agreement $agreement with terms hash $terms_hash"; ok=0
            fi
            if ! signed_by "$node" "$base.msg" "$base.sig"; then
                fail "$base.sig: no certificate of $node verifies this approval"; ok=0
            fi
            raw=$(raw_signature "$base.sig")
            if [ -z "$raw" ] || ! hex "changes/$sequence.msg" | grep -q "$raw"; then
                fail "$base is not the approval carried by change $sequence"; ok=0
            fi
            if [ "$ok" = 1 ]; then
                echo "ok: $organisation ($node) approved the terms $terms_hash ($base.terms.txt) at $stamped, in change $sequence"
            fi
        done < approvals/index

        if [ "$failures" -eq 0 ]; then
            echo "VERIFIED: every certificate, change and approval above holds."
            exit 0
        fi
        echo "NOT VERIFIED: $failures check(s) failed."
        exit 1
        """#
}
