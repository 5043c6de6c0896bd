/// `verify.sh` of an evidence bundle: checks it with a POSIX shell and the `openssl` command
/// alone (plus `od`, `awk`, `sort`, `cmp`, `tail`, which POSIX requires), so anyone can run it
/// without Accord. Every failure is one `FAIL:` line that names the file and what does not hold.
///
/// Its decoder (the awk program between `AWK` markers) reads the canonical bytes of changes and
/// terms as docs/encoding.md specifies them and writes them in the words of `EvidenceText`: the
/// bundle's readable files are compared with what it writes, so none of them can say what the
/// signed bytes do not.
enum EvidenceScript {
    static let text = #"""
        #!/bin/sh
        # Checks this Accord evidence bundle with a POSIX shell and openssl only (see README.txt).
        # Exit status: 0 every check holds and every party approved the current terms; 3 every check
        # holds but not every party approved them; 1 a check failed (each FAIL line says what); 2 it
        # could not run.
        set -u
        cd "$(dirname "$0")" || exit 2
        command -v openssl >/dev/null 2>&1 || { echo "FAIL: the openssl command is needed"; exit 2; }
        LC_ALL=C
        export LC_ALL
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
        # SHA-256 of FILE from byte SKIP + 1 on (after a domain tag), in hex.
        digest_from() { tail -c +"$(($2 + 1))" "$1" | openssl dgst -sha256 -r | cut -d ' ' -f 1; }
        # Writes the canonical bytes of FILE from byte SKIP + 1 on in words (decode.awk below); the facts
        # it finds go to FACTS. Fails (status 3) for bytes that do not decode.
        decode() {
            mode=$1; file=$2; skip=$3; facts=$4; shift 4
            tail -c +"$((skip + 1))" "$file" | od -An -v -tx1 | tr -d ' \n' | awk -v mode="$mode" -v facts="$facts" "$@" -f "$work/decode.awk"
        }
        # Whether FILE says exactly what EXPECTED (written from the signed bytes) says; FAIL if not.
        same_text() {
            if [ ! -f "$1" ]; then fail "$1 is missing"; return 1; fi
            if ! difference=$(cmp "$2" "$1" 2>&1); then
                fail "$1 does not say what the signed bytes say ($difference); sh verify.sh writes the true text to its standard output with -v"
                [ "$verbose" = 1 ] && { echo "--- what $1 should say:"; cat "$2"; echo "---"; }
                return 1
            fi
            return 0
        }
        verbose=0
        [ "${1:-}" = "-v" ] && verbose=1
        cat > "$work/decode.awk" <<'AWK'
        # Reads the canonical bytes of docs/encoding.md as one line of lower-case hex on standard input
        # and writes them in words: mode=change (a signed change's bytes, after its domain tag) writes the
        # change as history.txt says it and, to the file named by facts, one line per approval and
        # termination; mode=terms (terms, after their domain tag) writes them as a terms.txt says them
        # and, to facts, the parties. Exit status 3 for bytes that do not decode.
        function fail(what) { print "MALFORMED: " what > "/dev/stderr"; bad = 1; exit 3 }
        function byte(   value) {
            if (pos + 1 > length(hex)) fail("the bytes end early")
            value = hv[substr(hex, pos, 2)]
            pos += 2
            return value
        }
        function number(count,   value, i) { value = 0; for (i = 0; i < count; i++) value = value * 256 + byte(); return value }
        function raw(count,   text) {
            if (pos + 2 * count - 1 > length(hex)) fail("the bytes end early")
            text = substr(hex, pos, 2 * count); pos += 2 * count; return text
        }
        function uuid(   h) {
            h = raw(16)
            return substr(h, 1, 8) "-" substr(h, 9, 4) "-" substr(h, 13, 4) "-" substr(h, 17, 4) "-" substr(h, 21, 12)
        }
        function escaped(value) {
            if (value == 34) return "\\\""
            if (value == 92) return "\\\\"
            if (value == 10) return "\\n"
            if (value == 13) return "\\r"
            if (value == 9) return "\\t"
            if (value < 32 || value == 127) return sprintf("\\x%02x", value)
            return sprintf("%c", value)
        }
        function plain(   count, i, text) {
            count = number(4)
            if (pos + 2 * count - 1 > length(hex)) fail("a text is longer than the bytes left")
            text = ""
            for (i = 0; i < count; i++) text = text escaped(byte())
            return text
        }
        function quoted() { return "\"" plain() "\"" }
        function node(   organisation) { organisation = plain(); return organisation "/" plain() }
        function date(   year, month) { year = number(2); month = byte(); return sprintf("%04d-%02d-%02d", year, month, byte()) }
        function optional(kind,   marker) {
            marker = byte()
            if (marker == 0) return "(none)"
            if (marker != 1) fail("an optional value's marker is " marker)
            if (kind == "date") return date()
            if (kind == "text") return quoted()
            if (kind == "organisation") return plain()
            if (kind == "category") return name(categories, byte())
            if (kind == "kind") return name(kinds, byte())
            if (kind == "amount") return amount()
            if (kind == "schedule") return schedule()
            if (kind == "days") return number(2) " days"
            fail("no optional " kind)
        }
        function name(list, tag,   names) {
            split(list, names, " ")
            if (!(tag in names)) fail("an unknown tag " tag)
            return names[tag]
        }
        # An amount: three letters, units (at most 2^53 - 1, exact in awk's doubles) and a scale.
        function amount(   currency, units, scale, digits) {
            currency = sprintf("%c%c%c", byte(), byte(), byte()); units = number(8); scale = byte()
            if (units > 9007199254740991 || scale > 6) fail("an amount out of range")
            digits = sprintf("%.0f", units)
            if (scale == 0) return currency " " digits
            while (length(digits) <= scale) digits = "0" digits
            return currency " " substr(digits, 1, length(digits) - scale) "." substr(digits, length(digits) - scale + 1)
        }
        function schedule(   every, from) { every = name(recurrences, byte()); from = date(); return every " from " from " until " optional("date") }
        function timestamp(millis,   days, z, era, doe, yoe, doy, mp, day, month, year, time) {
            days = int(millis / 86400000); time = millis - days * 86400000
            z = days + 719468; era = int(z / 146097); doe = z - era * 146097
            yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
            doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
            mp = int((5 * doy + 2) / 153); day = doy - int((153 * mp + 2) / 5) + 1
            month = mp < 10 ? mp + 3 : mp - 9; year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            return sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day, int(time / 3600000), int(time / 60000) % 60, int(time / 1000) % 60, time % 1000)
        }
        function field(   tag, dimension) {
            tag = byte()
            if (tag == 1) return "title"
            if (tag == 2) return "category"
            if (tag == 3) return "framework." name(dimensions, byte())
            if (tag == 4) return "term.effectiveFrom"
            if (tag == 5) return "term.expiresOn"
            if (tag == 6) { dimension = uuid(); return "commitment[" dimension "]." name(attributes, byte()) }
            if (tag == 7) return "term.noticePeriod"
            fail("an unknown field tag " tag)
        }
        function value(   kind) {
            kind = byte()
            if (kind == 1) return quoted()
            if (kind == 2) return name(categories, byte())
            if (kind == 3) return optional("date")
            if (kind == 4) return plain()
            if (kind == 5) return name(kinds, byte())
            if (kind == 6) return name(states, byte())
            if (kind == 7) return optional("amount")
            if (kind == 8) return optional("schedule")
            if (kind == 9) return optional("days")
            fail("an unknown value kind " kind)
        }
        function edit(author, stamp,   tag, organisation, hash, signature, text) {
            tag = byte()
            if (tag == 1) { text = field(); return "set " text " = " value() }
            if (tag == 2) return "add party " plain()
            if (tag == 3) return "withdraw party " plain()
            if (tag == 4) return "remove commitment " uuid()
            if (tag == 5) {
                organisation = plain(); hash = raw(32); signature = raw(64)
                print "approval\t" organisation "\t" author "\t" stamp "\t" hash "\t" signature > facts
                return "approve as " organisation " the terms " hash
            }
            if (tag == 6) return "note " quoted()
            if (tag == 7) {
                text = quoted()
                print "termination\t" order "\t" authorOrganisation "\t" authorName "\t" id "\t" sequence "\t" author "\t" stamp "\t" text > facts
                return "terminate, reason " text
            }
            if (tag == 8) {
                text = uuid(); hash = optional("date"); signature = name(steps, byte())
                return signature " commitment " text " for period " hash ", saying " quoted()
            }
            if (tag == 9) return "void, reason " quoted()
            if (tag == 10) return "consent to removing party " plain()
            if (tag == 11) return "remove party " plain()
            if (tag == 12) return "agree to the termination, reason " quoted()
            fail("an unknown edit tag " tag)
        }
        function change(   version, agreement, millis, counter, count, i, stamp) {
            version = byte(); if (version != 1) fail("format version " version)
            agreement = raw(16); authorOrganisation = plain(); authorName = plain(); author = authorOrganisation "/" authorName
            millis = number(8); counter = number(4)
            stamp = timestamp(millis); order = sprintf("%020.0f\t%010d", millis, counter)
            count = number(4); for (i = 0; i < count; i++) raw(32)
            print "change " sequence " by " author ", stamped " stamp " (counter " counter "), id " id
            print "author\t" author "\t" stamp > facts
            count = number(4)
            if (count < 1) fail("a change with no edit")
            for (i = 0; i < count; i++) print "  " edit(author, stamp)
        }
        function blob(   count) { count = number(4); if (count > 4096) fail("a byte string of " count " bytes"); return raw(count) }
        function attribution(   version, named, kind, who, given, email) {
            version = byte(); if (version != 1) fail("attribution format " version)
            named = raw(32); if (named != id) fail("it names change " named ", not " id)
            kind = byte()
            if (kind == 1) kind = "person"; else if (kind == 2) kind = "local user"; else if (kind == 3) kind = "break-glass token"
            else fail("an unknown actor kind " kind)
            who = quoted(); given = optional("text"); email = optional("text")
            print "actor\t" who > facts
            print "change " sequence " made by " kind " " who ", name " given ", e-mail " email ", through " author
        }
        function passkey(   version, named, person, credential, key, rp, origin, registered, data, client, signature) {
            version = byte(); if (version != 1) fail("passkey signature format " version)
            named = raw(32); if (named != id) fail("it names change " named ", not " id)
            person = quoted(); credential = blob(); key = blob(); rp = plain(); origin = plain(); registered = timestamp(number(8))
            data = blob(); client = blob(); signature = blob()
            print "passkey\t" person "\t" rp "\t" origin "\t" key "\t" data "\t" client "\t" signature > facts
            print "change " sequence " approval signed by the passkey of " person ", credential " credential ", registered " registered \
                ", relying party \"" rp "\", origin \"" origin "\""
        }
        function terms(   version, count, i, parties, party, id, by, kind, description, due, extra) {
            version = byte(); if (version != 1 && version != 2) fail("terms version " version)
            print "agreement: " uuid()
            print "title: " optional("text")
            print "category: " optional("category")
            count = number(4); parties = ""
            for (i = 0; i < count; i++) { party = plain(); parties = parties (i ? ", " : "") party; print "party\t" party > facts }
            print "parties: " parties
            for (i = 1; i <= 5; i++) print "framework " name(dimensions, i) ": " optional("text")
            count = number(4)
            for (i = 0; i < count; i++) {
                id = uuid(); by = optional("organisation"); kind = optional("kind"); description = optional("text"); due = optional("date")
                extra = ""
                if (version == 2) { extra = ", amount " optional("amount"); extra = extra ", recurring " optional("schedule") }
                print "commitment " id ": by " by ", kind " kind ", due " due extra ": " description
            }
            print "effective from: " optional("date")
            print "expires on: " optional("date")
            if (version == 2) print "notice period: " optional("days")
            print "terms hash (SHA-256 of the canonical terms above): " hash
        }
        BEGIN {
            split("0 1 2 3 4 5 6 7 8 9 a b c d e f", digits, " ")
            for (i = 1; i <= 16; i++) for (j = 1; j <= 16; j++) hv[digits[i] digits[j]] = (i - 1) * 16 + (j - 1)
            categories = "technicalResources fullSupport financialSupport"
            dimensions = "valueAlignment technicalFit serviceCoverage dataProtection returnMechanism"
            attributes = "by kind description dueDate state amount schedule"
            kinds = "freeResource customerAssistance qualityGuarantee rdSubsidy other"
            states = "open fulfilled waived claimed disputed"
            steps = "claim confirm dispute waive"
            recurrences = "monthly quarterly yearly"
        }
        { hex = hex $0 }
        END {
            if (bad) exit 3
            pos = 1
            if (mode == "change") change(); else if (mode == "attribution") attribution(); else if (mode == "passkey") passkey(); else terms()
            if (pos <= length(hex)) fail("bytes are left over")
        }
        AWK

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

        # 2. Each change: the exact bytes its author signed, with the author's valid signature; what it
        #    says, in words, is history.txt.
        : > "$work/history.txt"
        : > "$work/facts"
        while IFS="$tab" read -r sequence author stamped change; do
            [ -n "$sequence" ] || continue
            message="changes/$sequence.msg"
            if ! signed_by "$author" "$message" "changes/$sequence.sig"; then
                fail "$message: no certificate of $author verifies its signature (the change was altered, or not signed by $author)"
                continue
            fi
            id=$(digest_from "$message" 17)
            if [ "$id" != "$change" ]; then
                fail "changes/index lists change $sequence as $change, but its signed bytes are change $id"
                continue
            fi
            if ! decode change "$message" 17 "$work/facts.$sequence" -v sequence="$sequence" -v id="$id" >> "$work/history.txt"; then
                fail "$message: its signed bytes are not a change of docs/encoding.md"
                continue
            fi
            cat "$work/facts.$sequence" >> "$work/facts"
            if ! grep -qxF "author$tab$author$tab$stamped" "$work/facts.$sequence"; then
                fail "changes/index says change $sequence was stamped $stamped by $author; its signed bytes say otherwise (see history.txt)"
                continue
            fi
            echo "ok: change $sequence ($change), stamped $stamped, is signed by $author"
        done < changes/index
        same_text history.txt "$work/history.txt" && echo "ok: history.txt says what the signed changes say"

        # 3. Each approval: of this agreement and of the terms in the bundle, signed by the approving
        #    node of the approving organisation, and carried by the change the index names, at its time.
        agreement_hex=$(printf '%s' "$agreement" | tr -d '-' | tr 'A-F' 'a-f')
        prefix_hex=$(printf 'accord/approval/v1\n' > "$work/prefix"; hex "$work/prefix")
        : > "$work/approved"
        while IFS="$tab" read -r number organisation node stamped terms_hash sequence; do
            [ -n "$number" ] || continue
            base="approvals/$number"
            ok=1
            if [ "${node%%/*}" != "$organisation" ]; then fail "$base: $node is not a node of $organisation"; ok=0; fi
            if [ ! -f "$base.terms" ]; then
                fail "$base.terms is missing: the terms this approval covers are not in the bundle"; ok=0
            else
                actual=$(digest_from "$base.terms" 0)
                if [ "$actual" != "$terms_hash" ]; then
                    fail "$base.terms hashes to $actual, not to the approved terms hash $terms_hash (the terms were altered)"; ok=0
                elif decode terms "$base.terms" 16 "$work/terms.$number" -v hash="$terms_hash" > "$work/terms.$number.txt"; then
                    same_text "$base.terms.txt" "$work/terms.$number.txt" || ok=0
                else
                    fail "$base.terms: its bytes are not terms of docs/encoding.md"; ok=0
                fi
            fi
            if [ "$(hex "$base.msg")" != "$prefix_hex$agreement_hex$terms_hash" ]; then
                fail "$base.msg is not an approval of agreement $agreement with terms hash $terms_hash"; ok=0
            fi
            if ! signed_by "$node" "$base.msg" "$base.sig"; then
                fail "$base.sig: no certificate of $node verifies this approval"; ok=0
            fi
            raw=$(raw_signature "$base.sig")
            carried="approval$tab$organisation$tab$node$tab$stamped$tab$terms_hash$tab$raw"
            if [ -z "$raw" ] || [ ! -f "$work/facts.$sequence" ] || ! grep -qxF "$carried" "$work/facts.$sequence"; then
                fail "$base: change $sequence carries no approval by $organisation ($node) of $terms_hash stamped $stamped (the index or the approval was altered)"; ok=0
            fi
            if [ "$ok" = 1 ]; then
                echo "ok: $organisation ($node) approved the terms $terms_hash ($base.terms.txt) at $stamped, in change $sequence"
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$organisation" "$number" "$node" "$stamped" "$sequence" "$terms_hash" >> "$work/approved"
            fi
        done < approvals/index

        # 4. Who made changes: each statement signed by the node that authored the change it names.
        #    Each approval signed with a person's passkey: the node's signed statement of whose passkey
        #    it is, and the passkey's signature over that approval from the console's origin
        #    (WebAuthn: authenticatorData || SHA-256(clientDataJSON)). people.txt says what they say.
        : > "$work/people.txt"
        listed() { awk -F "$tab" -v s="$1" -v a="$2" -v c="$3" '$1 == s && $2 == a && $4 == c { found = 1 } END { exit !found }' changes/index; }
        while IFS="$tab" read -r sequence author change; do
            [ -n "$sequence" ] || continue
            message="people/$sequence.msg"
            if ! listed "$sequence" "$author" "$change"; then fail "people/index: change $sequence by $author ($change) is not in changes/index"; continue; fi
            if ! signed_by "$author" "$message" "people/$sequence.sig"; then fail "$message: not signed by $author, the author of change $sequence"; continue; fi
            if ! decode attribution "$message" 22 "$work/actor.$sequence" -v sequence="$sequence" -v id="$change" -v author="$author" >> "$work/people.txt"; then
                fail "$message: its signed bytes are not an attribution of change $sequence (docs/encoding.md)"; continue
            fi
            echo "ok: $author states who made change $sequence (people.txt)"
        done < people/index
        while IFS="$tab" read -r sequence author change; do
            [ -n "$sequence" ] || continue
            base="passkeys/$sequence"
            if ! listed "$sequence" "$author" "$change"; then fail "passkeys/index: change $sequence by $author ($change) is not in changes/index"; continue; fi
            if ! signed_by "$author" "$base.msg" "$base.sig"; then fail "$base.msg: not signed by $author, the author of change $sequence"; continue; fi
            if ! decode passkey "$base.msg" 28 "$work/passkey.$sequence" -v sequence="$sequence" -v id="$change" >> "$work/people.txt"; then
                fail "$base.msg: its signed bytes are not a passkey signature of change $sequence (docs/encoding.md)"; continue
            fi
            IFS="$tab" read -r _ person rp origin key data client signature < "$work/passkey.$sequence"
            ok=1
            [ "$(hex "$base.key.der")" = "$key" ] || { fail "$base.key.der is not the key $author stated"; ok=0; }
            [ "$(hex "$base.authenticatorData")" = "$data" ] || { fail "$base.authenticatorData is not what $author stated"; ok=0; }
            [ "$(hex "$base.clientDataJSON")" = "$client" ] || { fail "$base.clientDataJSON is not what $author stated"; ok=0; }
            [ "$(hex "$base.signature.der")" = "$signature" ] || { fail "$base.signature.der is not what $author stated"; ok=0; }
            if [ -f "$work/actor.$sequence" ] && [ "$(cut -f 2 "$work/actor.$sequence")" != "$person" ]; then
                fail "$base: the passkey is $person's, but people/$sequence.msg says someone else made change $sequence"; ok=0
            fi
            number=$(awk -F "$tab" -v s="$sequence" '$5 == s { print $2; exit }' "$work/approved")
            if [ -z "$number" ]; then fail "$base: change $sequence holds no verified approval"; continue; fi
            challenge=$(openssl dgst -sha256 -binary "approvals/$number.msg" | openssl base64 -A | tr '+/' '-_' | tr -d '=')
            expected="{\"type\":\"webauthn.get\",\"challenge\":\"$challenge\",\"origin\":\"$origin\",\"crossOrigin\":false"
            after=$(dd if="$base.clientDataJSON" bs=1 skip="${#expected}" count=1 2>/dev/null)
            if [ "$(dd if="$base.clientDataJSON" bs=1 count="${#expected}" 2>/dev/null)" != "$expected" ] || { [ "$after" != "," ] && [ "$after" != "}" ]; }; then
                fail "$base.clientDataJSON is not a webauthn.get of approvals/$number.msg's challenge from $origin"; ok=0
            fi
            if [ "$(dd if="$base.authenticatorData" bs=1 count=32 2>/dev/null | od -An -v -tx1 | tr -d ' \n')" != "$(printf '%s' "$rp" | openssl dgst -sha256 -r | cut -d ' ' -f 1)" ]; then
                fail "$base.authenticatorData is for another relying party than $rp"; ok=0
            fi
            flags=$(od -An -tu1 -j32 -N1 "$base.authenticatorData" | tr -d ' ')
            [ $((flags & 5)) -eq 5 ] || { fail "$base.authenticatorData: the authenticator did not verify the person (flags UP and UV)"; ok=0; }
            { cat "$base.authenticatorData"; openssl dgst -sha256 -binary "$base.clientDataJSON"; } > "$work/passkey.signed"
            if ! openssl pkey -pubin -inform DER -in "$base.key.der" -out "$work/passkey.pem" 2>/dev/null \
                || ! openssl dgst -sha256 -verify "$work/passkey.pem" -signature "$base.signature.der" "$work/passkey.signed" >/dev/null 2>&1; then
                fail "$base.signature.der: the passkey's signature over the approval does not verify"; ok=0
            fi
            [ "$ok" = 1 ] && echo "ok: approval $number (change $sequence) is signed by the passkey of $person, as $author states"
        done < passkeys/index
        same_text people.txt "$work/people.txt" && echo "ok: people.txt says what the signed statements say"

        # 5. The terms at export, each party's approval of exactly those terms, and the termination.
        current=$(digest_from current/terms 0)
        : > "$work/current.facts"
        if decode terms current/terms 16 "$work/current.facts" -v hash="$current" > "$work/current.txt"; then
            same_text current/terms.txt "$work/current.txt" && echo "ok: current/terms.txt says what current/terms says (terms hash $current)"
        else
            fail "current/terms: its bytes are not terms of docs/encoding.md"
        fi
        missing=""
        {
            echo "current terms: $current (current/terms.txt)"
            printf 'parties: %s\n' "$(sed -n 's/^parties: //p' "$work/current.txt")"
            while IFS="$tab" read -r kind party; do
                [ "$kind" = party ] || continue
                found=$(awk -F "$tab" -v party="$party" -v hash="$current" '$1 == party && $6 == hash { print; exit }' "$work/approved")
                if [ -n "$found" ]; then
                    echo "$found" | awk -F "$tab" '{ printf "approval by %s: approvals/%s, signed by %s, stamped %s, in change %s\n", $1, $2, $3, $4, $5 }'
                else
                    echo "approval by $party: none of these terms"
                    missing="$missing${missing:+, }$party"
                fi
            done < "$work/current.facts"
            termination=$(grep "^termination$tab" "$work/facts" | sort -t "$tab" -k2,2 -k3,3 -k4,4 -k5,5 -k6,6 | head -n 1)
            if [ -n "$termination" ]; then
                echo "$termination" | awk -F "$tab" '{ printf "termination: by %s, stamped %s, in change %s, reason %s\n", $8, $9, $7, $10 }'
            else
                echo "termination: none among the changes in this bundle"
            fi
        } > "$work/proved"
        printf '%s\n' "$missing" > "$work/missing"
        missing=$(cat "$work/missing")
        sed -n '/^--- proved by verify.sh/,/^--- stated by/p' status.txt | sed '1d;$d' > "$work/stated-proved"
        if ! cmp -s "$work/proved" "$work/stated-proved"; then
            fail "status.txt: the part under \"proved by verify.sh\" does not say what the signed bytes say (they say what is printed below)"
        fi

        echo
        echo "Proved from the signed bytes:"
        sed 's/^/  /' "$work/proved"
        echo "Stated by the exporting node, not proved here:"
        sed -n '/^--- stated by/,$p' status.txt | sed '1d' | sed 's/^/  /'

        if [ "$failures" -ne 0 ]; then
            echo "NOT VERIFIED: $failures check(s) failed."
            exit 1
        fi
        terminated=$(sed -n 's/^termination: by /terminated by /p' "$work/proved")
        if [ -n "$missing" ]; then
            echo "VERIFIED, BUT NOT APPROVED BY EVERY PARTY: every check holds; the current terms $current are not approved by $missing.${terminated:+ The agreement was $terminated.}"
            exit 3
        fi
        echo "VERIFIED: every check holds, and every party approved the current terms $current.${terminated:+ The agreement was $terminated.}"
        exit 0
        """#
}
