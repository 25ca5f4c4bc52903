# The tapwatch image: one binary, the subcommand picked by the compose service (collect, index, ...).
FROM node:24-bookworm
# libpcap-dev: the live-capture binding (collector/sources/pcap-native) is built against it by npm ci's
# install script and loads libpcap.so at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY collector/sources/pcap-native/binding.gyp collector/sources/pcap-native/pcap_binding.c collector/sources/pcap-native/
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev
# The bin itself, as `tapwatch` runs it: its first line starts node with the flags it needs (cli/tapwatch.ts).
ENTRYPOINT ["dist/cli/tapwatch.js"]
