# wsgate in a container: the Debian package built by `make package`, installed on
# debian:12-slim, run as a non-root user.
#   docker build -t wsgate .
#   docker run -p 8080:8080 -e WSGATE_REDIS_URL=redis://redis:6379 \
#     -e WSGATE_JWT_SECRET_FILE=/run/secrets/jwt-secret -v ./jwt-secret:/run/secrets/jwt-secret:ro wsgate
# Every flag is also a WSGATE_* environment variable (docs/configuration.md). No HEALTHCHECK:
# let the orchestrator probe /readyz (readiness) and /healthz (liveness) on the listen port.

# Build: the same package installation as `make run` (scripts/install-deps.sh), then the
# Release build of the three binaries and the .deb.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps.sh && make package

# Run: only the package and the shared libraries it depends on.
FROM debian:12-slim
COPY --from=build /src/build-package/wsgate_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/wsgate_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/wsgate_*.deb \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin wsgate
USER 10001:10001
ENV WSGATE_LISTEN=0.0.0.0:8080
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/wsgate"]
