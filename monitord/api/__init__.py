"""monitord's HTTP face: health and readiness, Prometheus metrics, the status JSON and page,
and the heartbeat endpoint (``server.ApiService``, a ``monitord.daemon.Service``)."""
