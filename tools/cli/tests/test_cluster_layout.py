"""`icc run --cluster`'s layout on one machine: the deployment's NATS configuration adapted
per node, and the addresses of each service's replicas."""

from pathlib import Path

import pytest

from icc_cli import cluster


def test_each_node_gets_the_deployments_configuration_on_its_own_ports(tmp_path: Path) -> None:
    nodes = cluster.nodes_at("127.0.0.1", 20000, tmp_path)
    template = cluster.deployment_nats_conf().read_text(encoding="utf-8")
    second = cluster.nats_config(template, nodes[1], nodes)
    assert "port: 20003\nhost: 127.0.0.1" in second
    assert 'listen: "127.0.0.1:20004"' in second
    assert "http: 127.0.0.1:20005" in second
    assert f'store_dir: "{tmp_path / "nats-2"}"' in second
    for node in nodes:  # routes to all three (a node ignores its own)
        assert f'"nats-route://127.0.0.1:{node.route_port}"' in second
    # What durability and authorization rest on is kept as deployed.
    assert "sync_interval: always" in second
    assert "password: $DISPATCH_NATS_PASSWORD" in second
    assert "4222" not in second and "6222" not in second


def test_a_configuration_the_adapter_does_not_know_is_refused(tmp_path: Path) -> None:
    nodes = cluster.nodes_at("127.0.0.1", 20000, tmp_path)
    with pytest.raises(ValueError, match="expected one `store_dir` setting, found 0"):
        cluster.nats_config("port: 4222\nhttp_port: 8222\n", nodes[0], nodes)


def test_a_target_names_every_replica_of_a_service() -> None:
    assert cluster.replica_port(50051, 1) == 50151
    assert cluster.replicas_target("127.0.0.1", 50051) == "ipv4:127.0.0.1:50051,127.0.0.1:50151"
    assert cluster.replicas_target("::1", 50051) == "ipv6:[::1]:50051,[::1]:50151"
    with pytest.raises(ValueError, match="IP address"):
        cluster.replicas_target("localhost", 50051)
