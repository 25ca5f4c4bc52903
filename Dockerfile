# The tapwatch image: one binary, the subcommand picked by the compose service (collect, index, ...).
FROM node:24-bookworm
# libpcap-dev: cap (live capture) is built against it and loads libpcap.so at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev
ENTRYPOINT ["node", "dist/cli/tapwatch.js"]
