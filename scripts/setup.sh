#!/usr/bin/env bash
# Set up everything skylift and its tests need on Debian/Ubuntu: system packages (the real
# servers the tests and the demo run), a virtualenv in .venv, and skylift itself (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(
  python3 python3-venv python3-pip openssl ca-certificates
  dovecot-imapd dovecot-pop3d   # IMAP/POP3 source and target servers (tests, demo, bench)
  dovecot-lmtpd                 # LMTP delivery: wave notices land in a real mailbox (tests)
  slapd ldap-utils              # OpenLDAP for directory sync tests
  pst-utils                     # readpst: cross-check of the PST reader
  chromium                      # renders the assessment page in a test; Playwright drives it (tests/web)
  zbar-tools                    # zbarimg: decodes the setup page's QR code in a test
  postgresql                    # the state store's scale-out mode, in a test
  redis-server                  # the Celery broker of the scale-out tests and bench
  samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind   # a real Active Directory DC (tests)
  cyrus-common cyrus-admin sasl2-bin   # Cyrus IMAP's tools; its imapd is unpacked below
  libdb5.3 libnsl2 libsasl2-2 libssl3  # what the Postfix unpacked below links against
  prosody                       # XMPP servers: IM contact lists moved between two (tests)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Cyrus IMAP's daemon package conflicts with dovecot-imapd (both provide imap-server), so its
# binaries are unpacked into a private folder instead of installed; tests run them from there.
CYRUS_DIR=.cache/cyrus
if [ ! -x "$CYRUS_DIR/usr/lib/cyrus/bin/imapd" ]; then
  mkdir -p "$CYRUS_DIR/deb"
  (cd "$CYRUS_DIR/deb" && rm -f ./*.deb && apt-get download -q cyrus-imapd 2>/dev/null >/dev/null \
     || { $SUDO apt-get update -qq && apt-get download -q cyrus-imapd >/dev/null; })
  dpkg -x "$CYRUS_DIR"/deb/cyrus-imapd_*.deb "$CYRUS_DIR"
fi
# Postfix is the on-prem MTA of the cut-over tests. Debian's postfix package replaces the
# system MTA (exim4 and postfix both provide mail-transport-agent), so it is unpacked into a
# private folder instead of installed, unless a Postfix is already installed; tests run it with
# its own config dir, queue and ports (tests/servers/postfix.py).
POSTFIX_DIR=.cache/postfix
if [ ! -x /usr/sbin/postfix ] && [ ! -x "$POSTFIX_DIR/usr/sbin/postfix" ]; then
  mkdir -p "$POSTFIX_DIR/deb"
  (cd "$POSTFIX_DIR/deb" && rm -f ./*.deb && apt-get download -q postfix 2>/dev/null >/dev/null \
     || { $SUDO apt-get update -qq && apt-get download -q postfix >/dev/null; })
  dpkg -x "$POSTFIX_DIR"/deb/postfix_*.deb "$POSTFIX_DIR"
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
echo "skylift is set up: .venv/bin/skylift --help"
