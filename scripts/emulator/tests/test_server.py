"""The emulator's HTTP server: connections are kept alive, and a kept-alive connection stays sound
whatever a request's body did — cut short, or never read by the response."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from conftest import Emulator


def _connection(emulator: Emulator) -> http.client.HTTPSConnection:
    url = urlparse(emulator.endpoint)
    return http.client.HTTPSConnection(
        url.hostname, url.port, context=ssl.create_default_context(cafile=emulator.ca_bundle), timeout=30
    )


def _bucket(emulator: Emulator) -> str:
    name = f"server-{uuid.uuid4().hex[:10]}"
    emulator.client("s3").create_bucket(Bucket=name)
    return name


def test_one_connection_serves_many_requests(emulator: Emulator) -> None:
    conn = _connection(emulator)
    conn.request("GET", "/", headers={"Host": "sqs.us-east-1.amazonaws.com"})
    conn.getresponse().read()
    first = conn.sock
    conn.request("GET", "/", headers={"Host": "sqs.us-east-1.amazonaws.com"})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Connection") != "close"
    assert conn.sock is first  # no new TCP or TLS handshake


def test_an_upload_cut_short_stores_nothing(emulator: Emulator) -> None:
    bucket = _bucket(emulator)
    url = urlparse(emulator.endpoint)
    raw = socket.create_connection((url.hostname, url.port))
    tls = ssl.create_default_context(cafile=emulator.ca_bundle).wrap_socket(raw, server_hostname=url.hostname)
    tls.sendall(
        f"PUT /{bucket}/cut HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Length: 1000\r\n\r\n".encode() + b"x" * 500
    )
    time.sleep(0.5)
    tls.close()  # the client goes away with half the body sent
    time.sleep(1)
    listed = emulator.client("s3").list_objects_v2(Bucket=bucket)
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")


def test_a_chunked_body_the_response_did_not_read_is_not_parsed_as_the_next_request(emulator: Emulator) -> None:
    conn = _connection(emulator)
    # S3 refuses it before reading the body: the bucket does not exist.
    conn.request(
        "PUT",
        f"/no-such-bucket-{uuid.uuid4().hex[:8]}/k",
        body=iter([b"hello", b"world"]),
        encode_chunked=True,
        headers={"Host": urlparse(emulator.endpoint).hostname},
    )
    refused = conn.getresponse()
    refused.read()
    assert refused.status == 404
    bucket = _bucket(emulator)
    conn.request("GET", f"/{bucket}/missing", headers={"Host": urlparse(emulator.endpoint).hostname})
    answer = conn.getresponse()
    assert (answer.status, b"NoSuchKey" in answer.read()) == (404, True)
