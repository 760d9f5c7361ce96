# The distributable image: nothing but the static binary, for `COPY --from=` into your own image.
#
#   cargo build --release --target x86_64-unknown-linux-musl
#   docker build -t migrate-entrypoint .
#
# In your image:
#   COPY --from=migrate-entrypoint /migrate-entrypoint /usr/local/bin/migrate-entrypoint
FROM scratch
COPY target/x86_64-unknown-linux-musl/release/migrate-entrypoint /migrate-entrypoint
ENTRYPOINT ["/migrate-entrypoint"]
