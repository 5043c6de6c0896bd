#!/usr/bin/env bash
# Makes a private consortium CA and node certificates for Accord with the system `openssl`.
#
#   make-certs.sh [options] ORG:NODE[,NODE...] ...
#
# Options:
#   -o DIR            output folder (default: ./certs); an existing CA there is reused
#   -d DAYS           validity of node certificates in days (default 825)
#   --ca-days DAYS    validity of a new CA (default 3650)
#   --ca-name NAME    Subject CN of a new CA (default "Accord Consortium CA")
#   --start YYYYMMDDHHMMSSZ / --end YYYYMMDDHHMMSSZ
#                     exact validity of the node certificates (for testing expired or
#                     not-yet-valid certificates); override -d
#   --san SAN         subjectAltName of the node certificates made in this run, as openssl
#                     takes it (default "IP:127.0.0.1,DNS:localhost"), e.g.
#                     --san "DNS:accord.acme.example,IP:203.0.113.7"
#   --revoke ORG-NODE revoke an existing node certificate and (re)write crl.pem
#   --crl             (re)write crl.pem without revoking anything: the refresh a CRL needs
#                     before its next update (docs/operations.md, "Refresh the revocation list")
#   --crl-days DAYS   how long a CRL written now is valid, its next update (default 30)
#   --crl-seconds N   the same in seconds (for testing a CRL that expires)
#
# For every NODE of ORG it writes ORG-NODE.key (EC P-256, unencrypted, mode 0600) and
# ORG-NODE.pem with Subject O=ORG, CN=NODE, the SAN above, and extendedKeyUsage
# serverAuth+clientAuth (every node is both TLS client and server).

set -euo pipefail

out=./certs
days=825
ca_days=3650
ca_name="Accord Consortium CA"
start=""
end=""
revoke=""
write_crl=0
crl_validity=(-crldays 30)
san="IP:127.0.0.1,DNS:localhost"
nodes=()

while (($#)); do
    case "$1" in
        -o) out=$2; shift 2 ;;
        -d) days=$2; shift 2 ;;
        --ca-days) ca_days=$2; shift 2 ;;
        --ca-name) ca_name=$2; shift 2 ;;
        --start) start=$2; shift 2 ;;
        --end) end=$2; shift 2 ;;
        --revoke) revoke=$2; write_crl=1; shift 2 ;;
        --crl) write_crl=1; shift ;;
        --crl-days) crl_validity=(-crldays "$2"); shift 2 ;;
        --crl-seconds) crl_validity=(-crlsec "$2"); shift 2 ;;
        --san) san=$2; shift 2 ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed -e '/^$/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "make-certs.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
        *) nodes+=("$1"); shift ;;
    esac
done

command -v openssl >/dev/null || { echo "make-certs.sh: the openssl command is required" >&2; exit 69; }
mkdir -p "$out"
cd "$out"

# A minimal `openssl ca` setup: it lets us set exact validity dates and keep a revocation list.
mkdir -p ca-db
[[ -f ca-db/index.txt ]] || : > ca-db/index.txt
[[ -f ca-db/serial ]] || openssl rand -hex 16 > ca-db/serial
[[ -f ca-db/crlnumber ]] || echo 1000 > ca-db/crlnumber
cat > ca-db/ca.cnf <<CNF
[ ca ]
default_ca = accord
[ accord ]
dir = ca-db
database = ca-db/index.txt
serial = ca-db/serial
crlnumber = ca-db/crlnumber
new_certs_dir = ca-db
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = supplied
commonName = supplied
[ node ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

if [[ ! -f ca.pem ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days "$ca_days" -subj "/O=Accord Consortium/CN=$ca_name" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 ca.key
    echo "made CA: $out/ca.pem"
fi

for spec in "${nodes[@]}"; do
    org=${spec%%:*}
    names=${spec#*:}
    [[ "$spec" == *:* && -n "$org" && -n "$names" ]] || { echo "make-certs.sh: expected ORG:NODE[,NODE...], got '$spec'" >&2; exit 64; }
    IFS=, read -r -a list <<< "$names"
    for node in "${list[@]}"; do
        base="$org-$node"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$base.key" -out "$base.csr" \
            -subj "/O=$org/CN=$node" 2>/dev/null
        chmod 600 "$base.key"
        validity=(-days "$days")
        [[ -n "$start" ]] && validity+=(-startdate "$start")
        [[ -n "$end" ]] && validity=(-enddate "$end" ${start:+-startdate "$start"})
        openssl ca -batch -notext -config ca-db/ca.cnf -extensions node -in "$base.csr" -out "$base.pem" \
            "${validity[@]}" 2>/dev/null
        rm -f "$base.csr"
        echo "made node certificate: $out/$base.pem (O=$org, CN=$node)"
    done
done

if [[ -n "$revoke" ]]; then
    openssl ca -config ca-db/ca.cnf -revoke "$revoke.pem" 2>/dev/null
    echo "revoked: $revoke"
fi
if ((write_crl)); then
    openssl ca -config ca-db/ca.cnf -gencrl "${crl_validity[@]}" -out crl.pem 2>/dev/null
    echo "wrote CRL: $out/crl.pem ($(openssl crl -in crl.pem -noout -nextupdate))"
fi
