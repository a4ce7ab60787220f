# syntax=docker/dockerfile:1
# messenger container image.
#
# Stage "build": Debian 12 runs the project's own targets, exactly as a developer and CI's
# native run do: `make deps` (installs scripts/apt-packages.txt) and `make build` (release
# binary build/release/messenger and the Swagger UI assets in build/docs).
# Stage "runtime": Debian 12 slim with only the shared libraries the binary links, tini as
# PID 1 (forwards SIGTERM to the server, reaps children), a non-root user with uid 10001,
# and /data as the volume for the SQLite file. Tag the image with the commit SHA.

FROM debian:12 AS build
# make and CA certificates are needed before `make deps` can run (and fetch from npm).
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends make ca-certificates
WORKDIR /src
COPY . .
RUN make deps
RUN make build
# Collect what the runtime stage ships. /docs falls back to its self-contained page when the
# Swagger UI assets could not be fetched, so an empty build/docs is allowed.
RUN mkdir -p build/docs /out/bin /out/share/messenger /out/share/doc/messenger \
 && install -m 0755 build/release/messenger /out/bin/messenger \
 && cp -R build/docs /out/share/messenger/swagger-ui \
 && cp -R schema /out/share/messenger/schema \
 && cp -R docs/. /out/share/doc/messenger/

FROM debian:12-slim AS runtime
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libmicrohttpd12 libjansson4 libsqlite3-0 libuv1 liblz4-1 zlib1g libuuid1 libhiredis0.14 \
      libssl3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 messenger \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin messenger \
 && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/bin/messenger /usr/local/bin/messenger
COPY --from=build /out/share/messenger /usr/share/messenger
COPY --from=build /out/share/doc/messenger /usr/share/doc/messenger

ENV PORT=8000 \
    HOST=0.0.0.0 \
    MESSENGER_DB=/data/messenger.db \
    MESSENGER_DOCS_DIR=/usr/share/messenger/swagger-ui
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/messenger", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/messenger"]
CMD ["serve"]
