"""The site lab: simulated TPS sites in network namespaces, with real agents, link profiles and
faults, for the tests, the benchmark's soak and the demo."""
