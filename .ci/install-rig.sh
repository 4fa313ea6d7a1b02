#!/bin/sh
# Install what the YubiKey test rig (tests/rig/) needs on Debian 12. Idempotent; run as root.
#   pcscd            PC/SC daemon (the rig starts its own, in a private mount namespace)
#   vsmartcard-vpcd  the virtual reader driver the PIV emulator plugs into
#   ykcs11           Yubico's PKCS#11 module (libykcs11.so), the module under test
#   opensc-pkcs11    OpenSC's PKCS#11 module (second, independent PIV implementation)
#   opensc           pkcs11-tool / opensc-tool, handy when debugging the rig
#   yubico-piv-tool  yubico-piv-tool, handy when debugging the rig
#   util-linux       unshare(1), to run pcscd with its own /run
#   pcsc-tools       pcsc_scan (debugging only)
set -eu
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
    pcscd vsmartcard-vpcd ykcs11 opensc-pkcs11 opensc yubico-piv-tool util-linux pcsc-tools \
    libpcsclite1
# Debian starts pcscd through systemd socket activation where systemd runs; the rig does not
# need (or use) that instance, it runs its own pcscd with its own reader.conf directory.
echo "rig packages installed"
