# syntax=docker/dockerfile:1
# items-api: one self-contained binary (deno compile) on a distroless glibc base.
#   docker build -t items-api .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=... -e SECRET_KEY=... items-api

# --- build: resolve the locked dependencies, then compile the binary ------------------------
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
# Dependencies first: this layer is reused until deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY src/ src/
COPY static/ static/
COPY migrations/ migrations/
COPY scripts/ scripts/
# The binary's --allow-ffi names a folder under the runtime stage's TMPDIR (scripts/compile.ts).
ENV TMPDIR=/tmp
# Downloads the matching runtime (denort) from dl.deno.land, then embeds the app in it.
RUN deno task compile \
 && mkdir -p /out/data \
 && ./dist/items-api --version

# --- runtime: the binary and CA certificates, nothing else (no shell, no package manager) ---
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /src/dist/items-api /app/items-api
# Writable only for the embedded-SQLite fallback; compose and Kubernetes use MySQL.
COPY --from=build --chown=65532:65532 /out/data /app/data
# The runtime writes only under /tmp (its V8 code cache, DENO_DIR), so the root filesystem can
# be read-only: compose and Kubernetes mount a writable /tmp.
# MALLOC_MMAP_THRESHOLD_: every Argon2id hash allocates 19 MiB; with glibc's adaptive
# threshold those buffers stay resident after use (hundreds of MiB after a few logins).
# A fixed threshold gives them back to the OS (see README, Performance).
# TMPDIR=/tmp: the binary mounts its npm packages under /tmp/deno-compile-items-api/ and writes the
# native Argon2id binding (@node-rs/argon2) to /tmp/deno-native-addons/ before loading it; its
# --allow-ffi is baked in for that one folder (scripts/compile.ts, docs/decisions.md). Another
# TMPDIR, a renamed binary or a read-only /tmp: logins hash through Web Crypto instead (slower).
ENV APP_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    TMPDIR=/tmp \
    DENO_DIR=/tmp/deno \
    HOST=0.0.0.0 \
    PORT=8080 \
    METRICS_PORT=8000 \
    LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/app/items-api", "healthcheck"]
ENTRYPOINT ["/app/items-api"]
CMD ["serve"]
