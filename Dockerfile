# The discovery service on the official Deno image, as a non-root user, in production mode.
ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}

WORKDIR /app
# The only place the service may write: the KV file when DENO_KV_PATH is not set.
RUN mkdir -p /app/.matcher && chown deno:deno /app/.matcher
# Caching runs as deno too, so the cache in $DENO_DIR belongs to the user that reads it.
USER deno

# Dependencies, in their own layer: only the runtime's import map and its lock go in, so this layer
# is rebuilt only when deno.json or deno.lock change, never for a code change. `deno install` with
# no arguments fetches every npm package that import map names, at the versions deno.lock pins:
# what the service runs and nothing else (the tools' and tests' packages, and the development
# database PGlite, are in deno.dev.json, which the image never sees).
COPY deno.json deno.lock ./
RUN deno install --frozen

# The code (owned by root, so the service cannot change it). Caching the entry points here fetches
# nothing new; it fails the build if the code imports anything the layer above does not hold.
COPY generated/ generated/
COPY src/ src/
COPY scripts/token.ts scripts/keys_rewrap.ts scripts/
COPY openapi.yaml ./
RUN deno cache --frozen src/main.ts scripts/token.ts scripts/keys_rewrap.ts

ENV HOST=0.0.0.0 \
    PORT=8080 \
    MATCHER_ENV=production \
    MATCHER_DATA_DIR=/app/.matcher
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "--no-config", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8080') + '/health').catch(() => null); Deno.exit(r?.ok ? 0 : 1)"]
# The same permissions as `deno task start`; --cached-only: a production start never downloads.
CMD ["deno", "run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", "--frozen", "--cached-only", "src/main.ts"]
