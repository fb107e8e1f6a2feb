"""Multi-ISP failover: uplink intent, probes, a pure watcher state machine, the watch loop, drills, checks."""
