# Herald's API, worker and migrate entry points share this image (docker-compose.yml runs each
# with its own command). The Temporal server, its schema jobs and its dynamic config
# (deploy/temporal/) come from Temporal's own images, not from this one.
# The operator's CLI is on PATH: `docker compose run --rm api herald tenant list`.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts run after the sources are here (npm's `prepare` would build too early).
RUN npm ci --no-audit --no-fund --ignore-scripts
# Fixes to dependencies that upstream has not released yet (patches/README.md).
COPY patches ./patches
RUN npx patch-package
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY package.json ./
RUN ln -s /app/dist/bin/herald.js /usr/local/bin/herald
USER node
CMD ["node", "dist/bin/api.js"]
