# One image for every service of the monorepo; docker-compose.yml picks the entry point per service.
FROM node:20.19-bookworm-slim
WORKDIR /app
# ffmpeg/ffprobe: video processing in the media subgraph.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PRISMA_OFFLINE=0
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages ./packages
COPY prisma ./prisma
COPY gateway ./gateway
COPY subgraphs ./subgraphs
COPY schema ./schema
COPY scripts ./scripts
RUN npm ci --include=dev && npx turbo run generate && npm cache clean --force
USER node
