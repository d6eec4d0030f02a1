# idport container image. Build: docker build -t idport .  Run: docker run -p 5556:5556 -v $PWD/config.yaml:/etc/idport/config.yaml idport
# Stage 1 installs production dependencies; better-sqlite3 builds its native module here, so the
# compilers never reach the final image.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2 compiles the TypeScript (`npm run build`, TypeScript is a dev dependency) into dist/.
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
# SQLite lives on this volume (storage.config.file: /var/lib/idport/idport.db).
# `dex` (and Dex's `docker-entrypoint`) on PATH, so manifests written for Dex's image (`command: [dex, serve, …]`)
# start idport; the CLI drops a leading `dex` argument too (`args: [dex, serve, …]` with this ENTRYPOINT).
RUN mkdir -p /var/lib/idport /etc/idport && chown node:node /var/lib/idport \
 && ln -s /app/bin/dex.js /usr/local/bin/dex \
 && ln -s /app/bin/dex.js /usr/local/bin/docker-entrypoint
VOLUME ["/var/lib/idport"]
USER node
EXPOSE 5556
# /healthz/live is also served at the root, whatever the issuer path is.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5556/healthz/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/idport.js"]
CMD ["serve", "/etc/idport/config.yaml"]
