# tcp-echo container image: `docker build -t tcp-echo .` (docker-compose.yml builds it too).
# Two stages: the build stage compiles TypeScript with the dev dependencies; the runtime stage has
# only the production dependencies, the compiled dist/ and the configs, and runs as the unprivileged
# `node` user of the official Node.js image. test/integration/stack-image.test.ts checks this file
# without a Docker engine: it replays the runtime stage's COPY and RUN steps in a temp dir and
# starts the ENTRYPOINT + CMD there.

FROM node:24.22.3-bookworm-slim AS build
# A C compiler for the native socket-address reader (native/socket-addresses.c, Node-API: the
# image's own headers). Only this stage has it; the runtime stage gets the built .node in dist/.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY native ./native
COPY scripts/build-native.mjs ./scripts/
RUN npm run build

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
USER node
# 8181: echo (TCP). 8182: monitor HTTP (/metrics, /ping, /service/monitor).
EXPOSE 8181 8182
# /ping answers 200 while serving and 500 once shutdown began. The slim image has no curl: Node's
# fetch does it, on the port the config reads from MONITOR_PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MONITOR_PORT||'8182')+'/ping').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# Node is PID 1 unless compose adds an init (docker-compose.yml does): the service handles SIGTERM
# itself (graceful drain), so it stops cleanly either way.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--initial-heap-size=128", "--max-semi-space-size=8", "dist/main.js"]
CMD ["-c", "config/container_config.yaml"]
