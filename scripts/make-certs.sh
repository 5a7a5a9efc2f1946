#!/usr/bin/env bash
# A small PKI for the MQTT links, with openssl: one CA, the broker's server certificate, and
# client certificates whose common name is the MQTT identity (the fleet's "fleet", a box's
# device id from `edged enroll`). Keys are EC P-256 in PKCS#8, mode 0600.
#
#   scripts/make-certs.sh DIR ca                      # DIR/ca.pem, DIR/ca.key
#   scripts/make-certs.sh DIR server NAME [NAME...]   # DIR/server.pem/.key; NAMEs: DNS names or IPs
#   scripts/make-certs.sh DIR client CN               # DIR/CN.pem, DIR/CN.key
#
# For production use your organisation's CA; this is what the tests and a first setup use.
set -euo pipefail

usage() { sed -n '2,10p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
dir=$1 kind=$2
shift 2
command -v openssl >/dev/null || { echo "openssl is not installed (apt-get install openssl)" >&2; exit 69; }
mkdir -p "$dir"
umask 077
days=825

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: DIR/NAME.pem signed by the CA.
sign() {
    local name=$1 subject=$2 ext=$3
    [ -f "$dir/ca.key" ] || { echo "no CA in $dir: run '$0 $dir ca' first" >&2; exit 66; }
    new_key "$dir/$name.key"
    openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr"
    printf '%b' "$ext" > "$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days "$days" -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
    chmod 644 "$dir/$name.pem"
    echo "$dir/$name.pem"
}

case "$kind" in
ca)
    new_key "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=edge fleet CA" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.pem"
    chmod 644 "$dir/ca.pem"
    echo "$dir/ca.pem"
    ;;
server)
    [ $# -ge 1 ] || usage
    sans=""
    for name in "$@"; do
        if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then sans+="IP:$name,"; else sans+="DNS:$name,"; fi
    done
    sign server "/CN=$1" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans%,}\n"
    ;;
client)
    [ $# -eq 1 ] || usage
    [[ $1 =~ ^[A-Za-z0-9._-]+$ ]] || { echo "client name must be [A-Za-z0-9._-]+" >&2; exit 64; }
    sign "$1" "/CN=$1" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
    ;;
*) usage ;;
esac
