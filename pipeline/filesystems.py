"""Object stores beyond gs://: TensorFlow's s3:// filesystem, and a clean exit after it.

TensorFlow 2.16 reads gs:// by itself but has no s3:// filesystem; importing
tensorflow-io (0.37, built against TF 2.16) registers one, which also serves
MinIO and other S3-compatible stores. Beam's s3:// filesystem comes with its
`aws` extra (boto3). Both take the endpoint and keys from the environment:

    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (e.g. us-east-1)
    S3_ENDPOINT=http://minio-service.kubeflow:9000, S3_USE_HTTPS=0, S3_VERIFY_SSL=0
                                  (tensorflow-io; AWS itself needs none of them)
    AWS_ENDPOINT_URL=http://minio-service.kubeflow:9000   (boto3, so Beam)

tensorflow-io 0.37's S3 client aborts the process at interpreter exit
("pure virtual method called", exit 134) after a successful run; `exit_code`
ends a process that loaded it with os._exit instead, after flushing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Iterable, Optional

logger = logging.getLogger(__name__)

S3_SCHEMES = ('s3://',)


def register_for(uris: Iterable[Optional[str]]) -> bool:
    """Registers TensorFlow's s3:// filesystem if any URI needs it; True if it did."""
    if not any(uri and uri.startswith(S3_SCHEMES) for uri in uris):
        return False
    import tensorflow_io  # noqa: F401  (registers s3:// with tf.io.gfile)
    logger.info('Registered the s3:// filesystem (tensorflow-io %s)', tensorflow_io.__version__)
    return True


def exit_code(code: int) -> int:
    """Returns `code`; in a process that loaded tensorflow-io, exits with it at once."""
    if 'tensorflow_io' in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code
