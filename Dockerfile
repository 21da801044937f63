# syntax=docker/dockerfile:1
# slotlock: stateless REST lock service; etcd runs elsewhere (set ETCD_ENDPOINTS).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/gen-build-info.ts ./scripts/gen-build-info.ts
# The commit for slotlock_build_info (the build context has no .git):
#   docker build --build-arg SLOTLOCK_COMMIT=$(git rev-parse HEAD) .
ARG SLOTLOCK_COMMIT=unknown
RUN SLOTLOCK_COMMIT=$SLOTLOCK_COMMIT npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
# tini as PID 1 forwards SIGTERM to node and reaps zombies (node is not built to be PID 1).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 8080
# The slim image has no curl; Node's fetch does the probe. /livez never touches etcd.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node","-e","fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini","--"]
CMD ["node","dist/main.js"]
