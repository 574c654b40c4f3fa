# meshpilot control plane image.
#   docker build -t meshpilot:dev .
#   docker run --rm -p 15010:15010 -p 15014:15014 -v "$PWD/examples/demo:/etc/meshpilot/config:ro" meshpilot:dev
# Two stages: `build` compiles TypeScript with the dev dependencies; the runtime stage holds only
# production dependencies, the compiled dist/src, and runs as an unprivileged user.

# Pinned Node.js LTS (22.x) on Debian bookworm; bump deliberately.
ARG NODE_IMAGE=node:22.20.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script runs tsc, which needs the sources copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; --ignore-scripts skips `prepare` (tsc is a dev dependency; dist
# comes from the build stage).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY crds ./crds
COPY examples ./examples
# Non-root: uid 10001 (1337 is the uid Istio-style sidecar proxies run as). Nothing in /app is
# writable by it, so the container also works with a read-only root filesystem.
RUN groupadd --system --gid 10001 meshpilot && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin meshpilot
USER 10001:10001
# 15010 gRPC ADS (xDS), 15014 health/metrics/debug, 15017 admission webhook (HTTPS).
EXPOSE 15010 15014 15017
# A 32 MiB young generation (V8's semi-space; default 16): a push allocates briefly per proxy
# (responses, their gRPC frames), and fewer scavenges mean less CPU per push (bench/README.md).
ENTRYPOINT ["node", "--max-semi-space-size=32", "dist/src/cli/main.js"]
CMD ["serve", "--xds-address=0.0.0.0:15010", "--admin-address=0.0.0.0:15014", "--config-dir=/etc/meshpilot/config"]
