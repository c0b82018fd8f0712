# syntax=docker/dockerfile:1
# deltaserve on NVIDIA GPUs: built against the CUDA toolkit and a CUDA libtorch, run on
# the CUDA runtime image with only the shared libraries the binaries load.
# Build from the repository root (on a machine that reaches nvcr/docker hub and
# download.pytorch.org; no GPU needed to build):
#   docker build -f deploy/docker/cuda.Dockerfile -t deltaserve:0.1.0-cuda .
# kernels/ compiles for sm_80 and sm_90 (A100, H100/H200): kernels/CMakeLists.txt.
# Run: docker run --rm --gpus all -v /models:/models:ro -p 50051:50051 -p 9090:9090 \
#        deltaserve:0.1.0-cuda --model=/models/llama --listen=0.0.0.0:50051 --metrics-listen=0.0.0.0:9090
ARG CUDA_VERSION=13.0.1
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu130/libtorch-shared-with-deps-2.9.0%2Bcu130.zip
COPY deploy/docker/image-steps.sh /usr/local/bin/image-steps.sh
RUN image-steps.sh build-deps cuda
# libtorch carries its own cuDNN, cuBLAS and NCCL; they ship in the image's /opt/libtorch/lib.
ADD ${LIBTORCH_URL} /tmp/libtorch.zip
RUN unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
COPY . /src
RUN image-steps.sh build /src /opt/deltaserve -DDELTASERVE_CUDA=ON -DCMAKE_PREFIX_PATH=/opt/libtorch \
 && image-steps.sh runtime-packages --bundled /opt/libtorch /opt/deltaserve/bin/* > /opt/deltaserve/runtime-packages.txt

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
COPY deploy/docker/image-steps.sh /usr/local/bin/image-steps.sh
COPY --from=build /opt/deltaserve/runtime-packages.txt /tmp/runtime-packages.txt
RUN image-steps.sh runtime-deps /tmp/runtime-packages.txt && rm /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin deltaserve
COPY --from=build /opt/libtorch/lib/ /opt/libtorch/lib/
COPY --from=build /opt/deltaserve/bin/ /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/libtorch/lib
USER 10001:10001
EXPOSE 50051 9090
HEALTHCHECK --start-period=20m --interval=30s CMD ["deltaserve-cli", "--target", "127.0.0.1:50051", "health"]
# The image exists to serve on the GPU; --device=cpu after the image name still overrides.
ENTRYPOINT ["deltaserve", "--device=cuda"]
