"""Valid CreateIncident requests: a structure fire near Bến Thành market, jittered."""

import random
import uuid

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb

BEN_THANH = (10.7725, 106.698)
JITTER_DEG = 0.002  # about 200 m: stays inside Ho Chi Minh City


def create_request(rng: random.Random) -> pb.CreateIncidentRequest:
    return pb.CreateIncidentRequest(
        request_id=uuid.uuid4().hex,
        incident=incident_pb2.Incident(
            type_code="FIRE.STRUCTURE",
            location=common_pb2.Location(
                lat=BEN_THANH[0] + rng.uniform(-JITTER_DEG, JITTER_DEG),
                lon=BEN_THANH[1] + rng.uniform(-JITTER_DEG, JITTER_DEG),
                address="Chợ Bến Thành, Lê Lợi",
                ward="Bến Thành",
            ),
            caller=incident_pb2.Caller(name="Nguyễn Văn Thử", phone="+84901234567", language="vi"),
            description="Cháy nhà dân, khói đen",
        ),
    )
