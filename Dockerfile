# idport container image. Build: docker build -t idport .  Run: docker run -p 5556:5556 idport
# (config.container.yaml is the default /etc/idport/config.yaml; mount your own there, see README "Container").
# Stage 1 installs production dependencies; better-sqlite3 builds its native module here, so the
# compilers never reach the final image.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2 builds dist/ (`npm run build`: tsc type-checks, esbuild bundles; both are dev dependencies).
FROM deps AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY connectors ./connectors
COPY storage ./storage
COPY web ./web
RUN npm run build

# Stage 3: the runtime, plain node running the compiled JavaScript, as the unprivileged `node` user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The example app (compose.yaml runs it from this image) and the default config.
COPY examples ./examples
COPY config.container.yaml /etc/idport/config.yaml
# SQLite lives on this volume (storage.config.file: /var/lib/idport/idport.db).
# `dex` (and Dex's `docker-entrypoint`) on PATH, so manifests written for Dex's image (`command: [dex, serve, …]`)
# start idport; the CLI drops a leading `dex` argument too (`args: [dex, serve, …]` with this ENTRYPOINT).
RUN mkdir -p /var/lib/idport && chown node:node /var/lib/idport \
 && ln -s /app/bin/dex.js /usr/local/bin/dex \
 && ln -s /app/bin/dex.js /usr/local/bin/docker-entrypoint
VOLUME ["/var/lib/idport"]
USER node
EXPOSE 5556 5558
# Probes /healthz/live on the listener the config sets up (telemetry.http, else web.http or web.https), so a config
# listening elsewhere than 5556 stays healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "bin/idport.js", "healthcheck", "/etc/idport/config.yaml"]
ENTRYPOINT ["node", "bin/idport.js"]
CMD ["serve", "/etc/idport/config.yaml"]
