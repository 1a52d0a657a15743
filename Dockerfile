# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run with production ones only, as a non-root user.
# README "Run with Docker"; test/integration/production.test.ts starts dist/main.js with exactly
# the runtime stage's ENV and CMD.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
# postinstall runs `prisma generate` into src/generated.
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
# HOST=0.0.0.0 needs auth: pass JWT_SECRET (or JWT_JWKS_URL) at run time; without it the server
# refuses to start (exit 2, naming JWT_SECRET). AUTH_DISABLED=true is for a local compose only.
# STREAMGATE_URL is where the CLI (`streamgate status`, ...) finds the server in this container.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    PGLITE_DIR=/data/db \
    STREAMGATE_URL=http://127.0.0.1:4000
WORKDIR /app
COPY package.json package-lock.json ./
# The generated Prisma client is compiled into dist/; the install scripts (prisma generate) need
# the dev dependencies, which the runtime image does not carry.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY prisma ./prisma
# The CLI runs dist/cli/main.js here (no tsx, no src/); examples/ holds its data templates.
COPY bin ./bin
COPY examples ./examples
RUN ln -s /app/bin/streamgate.js /usr/local/bin/streamgate && mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
# node is PID 1 and handles SIGTERM itself: graceful drain within SHUTDOWN_TIMEOUT, then exit 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
