# syntax=docker/dockerfile:1
#
# One image for every process of the clinic backend; the command picks the role:
#   API        node dist/api/main.js                (default CMD, listens on $PORT, 8088)
#   worker     node dist/workers/main.js            (WORKER_TASK_QUEUES=booking,notifications,...)
#   migrations node dist/scripts/migrate.js         (one-shot)
# docker-compose.yml wires them into the production-shaped topology.

ARG NODE_IMAGE=node:20-slim

# ---------------------------------------------------------------------------
# base: shared settings for every stage
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_AUDIT=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# ---------------------------------------------------------------------------
# build: all dependencies, tsc to dist/, pre-built Temporal workflow bundle
# ---------------------------------------------------------------------------
FROM base AS build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
RUN npm run build \
 && node dist/scripts/build-workflow-bundle.js \
 && test -f dist/api/main.js \
 && test -f dist/workers/main.js \
 && test -f dist/scripts/migrate.js \
 && test -f dist/workflow-bundle.js

# ---------------------------------------------------------------------------
# prod-deps: production dependencies only (no jest, swc, tsc, eslint)
# ---------------------------------------------------------------------------
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

# ---------------------------------------------------------------------------
# runtime: production deps + compiled output, runs as the unprivileged `node` user
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    PORT=8088
# Files stay owned by root: the process can read but not rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8088
CMD ["node", "dist/api/main.js"]
