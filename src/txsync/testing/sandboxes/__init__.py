"""Local emulations of the built-in connectors' APIs (httpx transports), built from each API's
documentation: the cassettes under ``cassettes/<connector>/`` are recorded from them and the
benchmarks run against them. Never used by a real sync."""
