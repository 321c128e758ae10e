"""The gateway's pure core: the common operating picture (`picture`), what it holds in the
API's shapes (`model`), the response-time KPIs (`kpis`) and the dispatcher roles (`roles`).

No I/O, no protobuf and no web framework (an import-linter contract holds it so): the
feed translates the services' messages at the edge (`icc_gateway.convert`) and the HTTP
layer serializes these shapes as they are.
"""
