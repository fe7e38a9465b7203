# One image for every service of the monorepo; docker-compose.yml picks the entry point per service. Each service
# runs `node dist/<name>.mjs` (compiled by `npm run build`) as PID 1, so SIGTERM from `docker stop` reaches it.
FROM node:20.19-bookworm-slim
WORKDIR /app
# ffmpeg/ffprobe: video processing in the media subgraph.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
ENV PRISMA_OFFLINE=0
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages ./packages
COPY prisma ./prisma
COPY gateway ./gateway
COPY subgraphs ./subgraphs
COPY schema ./schema
COPY scripts ./scripts
# web/: the reference client, built into web/dist by `npm run build` (its generate step) and served by the gateway
# at /app. faults/: a workspace of the lockfile (the fault tests), copied so that `npm ci` sees every workspace.
COPY web ./web
COPY faults ./faults
# Dev dependencies generate code and bundle (the web client included); the image keeps only what the bundles,
# the web client's files and `prisma migrate` load.
RUN npm ci --include=dev && npm run build && npm prune --omit=dev && npm cache clean --force
ENV NODE_ENV=production
# V8 flags of every service process would go in NODE_OPTIONS here, the same as PRODUCTION_NODE_FLAGS in
# packages/topology/src/process.ts (none today; ADR 19).
USER node
CMD ["node", "--enable-source-maps", "dist/gateway.mjs"]
