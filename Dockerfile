# One image for every Kubeflow task and, as --sdk_container_image, for the
# Beam workers of Dataflow or Flink: Python 3.10 with exactly the packages of
# requirements.lock (the runtime set: TFX 1.16.0, TensorFlow 2.16.2, Beam
# 2.61.0, ...; the tests run against the same pins plus test tools,
# requirements-test.lock, which the image does not carry), this project installed at /pipeline so that
# dotted-path user code (run_fn, preprocessing_fn, TFMA metrics, custom
# components, artifact types) imports in every pod and on every Beam worker,
# and Beam's SDK-harness boot loader as the entrypoint.
#
#   docker build -t gcr.io/PROJECT/yt8m-tfx:TAG . && docker push gcr.io/PROJECT/yt8m-tfx:TAG
#
# KFP runs each task with its own command (the TFX v2 entrypoint), which
# overrides ENTRYPOINT; Beam's portable runners start /opt/apache/beam/boot.

# The boot loader of the Beam SDK container of the locked Beam version.
FROM apache/beam_python3.10_sdk:2.61.0 AS beam_sdk

FROM python:3.10-slim
COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam

RUN python -m pip install --no-cache-dir uv==0.13.9
WORKDIR /pipeline
COPY requirements.lock pyproject.toml ./
# Exactly the lock: `sync` installs what it lists and removes anything else.
RUN uv pip sync --system --no-cache requirements.lock
COPY . .
RUN uv pip install --system --no-cache --no-deps -e . \
    && useradd --uid 1000 --gid 0 --create-home yt8m && chown -R 1000:0 /pipeline
# A numeric user: a pod with `runAsNonRoot: true` can only verify a number.
USER 1000:0
ENV TF_USE_LEGACY_KERAS=1 TF_CPU_ALLOCATOR_USE_BFC=true PYTHONPATH=/pipeline
ENTRYPOINT ["/opt/apache/beam/boot"]
