# The production image: the compiled CLI on Node 24 LTS (docs/decisions/0001-node-24-runtime.md), no dev
# dependencies, no sandboxes, as a non-root user. `docker build -t odoo-opencell-sync .`, then e.g.
#   docker run --env-file sync.env odoo-opencell-sync run            (every role in one process)
#   docker run --env-file sync.env odoo-opencell-sync run --only projector
# Configuration is environment only (README, "Configuration").

# --- build: dev dependencies (TypeScript 7), compile src/ to dist/ -------------------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and the compiled output only --------------------------------------------
FROM node:24-slim
ENV NODE_ENV=production
# V8's heap sized for the 250 MiB per-process goal (issue 17; BENCHMARKS.md, "Memory"): on a large host V8 lets the
# heap grow to hundreds of MiB of garbage before it collects. The benchmarks start the pipeline processes with these
# same flags (bench/processes.ts reads them here) and the manifests set the same NODE_OPTIONS (a test checks both).
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8"
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY connectors ./connectors
COPY schemas ./schemas
# The node image's user "node", by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
# The ops HTTP server (/healthz, /readyz, /metrics) on the container's address (loopback outside containers);
# HTTP_PORT and HTTP_HOST change it.
ENV HTTP_HOST=0.0.0.0
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/odoo-opencell-sync"]
CMD ["run"]
