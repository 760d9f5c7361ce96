# The distributable image: nothing but the static binary, for `COPY --from=` into your own image.
# One image per architecture, from the binary scripts/dist built for it:
#
#   scripts/dist                  # dist/amd64/ and dist/arm64/
#   docker build -t migrate-entrypoint .                              # amd64
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/migrate-entrypoint --push .
#
# In your image:
#   COPY --from=migrate-entrypoint /migrate-entrypoint /usr/local/bin/migrate-entrypoint
FROM scratch
# BuildKit sets TARGETARCH for each --platform; the classic builder takes the default (or
# --build-arg TARGETARCH=arm64).
ARG TARGETARCH=amd64
COPY dist/${TARGETARCH}/migrate-entrypoint /migrate-entrypoint
ENTRYPOINT ["/migrate-entrypoint"]
