# events layer (issue 10): WebSocket frames with libwslay, which has no pkg-config file in
# Debian 12 (the handshake SHA-1 uses libcrypto, already in PKGS).
PKG_LIBS += -lwslay
