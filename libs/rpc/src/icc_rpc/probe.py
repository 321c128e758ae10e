"""`python -m icc_rpc.probe SERVICE [PORT]`: exits 0 when the service on this host answers
gRPC health SERVING over mutual TLS, 1 otherwise (orchestrators' probes).

Kubernetes' native gRPC probes and Compose cannot present a client certificate, so a
probe runs inside the container with the process's own files (`ICC_TLS_*`), and checks the
server by the first DNS name of that certificate (the service's own) while connecting to
127.0.0.1.
"""

import sys

import grpc
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc_rpc.tls import TlsConfig


def check(service: str, port: int, tls: TlsConfig, timeout_s: float = 2.0) -> bool:
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    options = [("grpc.ssl_target_name_override", names[0])] if names else []
    with grpc.secure_channel(f"127.0.0.1:{port}", tls.channel_credentials(), options) as ch:
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print("usage: python -m icc_rpc.probe SERVICE [PORT]  (SERVICE '' = overall)")
        return 2
    port = int(argv[1]) if len(argv) > 1 else 50051
    # ICC_TLS_* as the container has them (a deployment always sets them).
    return 0 if check(argv[0], port, TlsConfig.from_env("probe")) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
