# Herald's API, worker and migrate entry points share this image (docker-compose.yml runs each
# with its own command). The Temporal server, its schema jobs and its dynamic config
# (deploy/temporal/) come from Temporal's own images, not from this one.
# TODO when the `herald` command exists (a "bin" in package.json): put it on PATH in the final
# stage, e.g. `RUN ln -s /app/dist/bin/herald.js /usr/local/bin/herald`, so `docker compose run
# api herald ...` works, and check it in test/unit/docker-compose.test.ts.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
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
USER node
CMD ["node", "dist/bin/api.js"]
