# Image for the Kubeflow runner: the official TFX 1.16 image with this project
# installed (editable) at /pipeline, so dotted-path user code (run_fn,
# preprocessing_fn, TFMA metrics, custom components) imports in every pod.
FROM tensorflow/tfx:1.16.0

WORKDIR /pipeline
COPY requirements.lock pyproject.toml ./
# The base image already carries TFX 1.16 and its stack; add what is missing
# at the locked versions without touching what is there.
RUN python -m pip install --no-cache-dir tf-keras==2.16.0 matplotlib
COPY . .
RUN python -m pip install --no-cache-dir --no-deps -e .
ENV TF_USE_LEGACY_KERAS=1 TF_CPU_ALLOCATOR_USE_BFC=true PYTHONPATH=/pipeline
