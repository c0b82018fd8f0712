# syntax=docker/dockerfile:1
# deltaserve on the CPU, from Debian 12 packages (libtorch 1.13, gRPC 1.51, ...).
# Build from the repository root:
#   docker build -f deploy/docker/cpu.Dockerfile -t deltaserve:0.1.0-cpu .
# Run (the demo model; mount a checkpoint and pass --model /models/... for a real one):
#   docker run --rm -p 50051:50051 -p 9090:9090 deltaserve:0.1.0-cpu
ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
COPY deploy/docker/image-steps.sh /usr/local/bin/image-steps.sh
RUN image-steps.sh build-deps cpu
COPY . /src
# OpenBLAS is named explicitly: libtorch only asks for some libblas.so.3, and apt's
# default provider (the reference BLAS) is about 40x slower.
RUN image-steps.sh build /src /opt/deltaserve \
 && { image-steps.sh runtime-packages /opt/deltaserve/bin/*; echo libopenblas0-openmp; } > /opt/deltaserve/runtime-packages.txt

FROM ${DEBIAN_IMAGE}
COPY deploy/docker/image-steps.sh /usr/local/bin/image-steps.sh
COPY --from=build /opt/deltaserve/runtime-packages.txt /tmp/runtime-packages.txt
RUN image-steps.sh runtime-deps /tmp/runtime-packages.txt && rm /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin deltaserve
COPY --from=build /opt/deltaserve/bin/ /usr/local/bin/
USER 10001:10001
EXPOSE 50051 9090
HEALTHCHECK --start-period=10m --interval=30s CMD ["deltaserve-cli", "--target", "127.0.0.1:50051", "health"]
ENTRYPOINT ["deltaserve"]
CMD ["--demo-model", "--listen=0.0.0.0:50051", "--metrics-listen=0.0.0.0:9090"]
