# events layer (issue 10, owner: the event-stream engineer): WebSocket frames with libwslay
# (no pkg-config file in Debian 12), the handshake's SHA-1 with OpenSSL libcrypto.
PKGS += libcrypto
PKG_LIBS += -lwslay
