"""The event-MPM site mod_status is compared on (one child of four threads), shared by the
status page comparison with Apache and the metrics comparison with the exporter."""
from __future__ import annotations

EVENT_BODY = """
ServerLimit 1
StartServers 1
ThreadLimit 4
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4
ExtendedStatus {ext}
DocumentRoot "{root}"
<Location /server-status>
  SetHandler server-status
</Location>
"""
