"""The embedded default (ARCHITECTURE.md, "Running it"): `cohort serve`, and the demo records it starts
with. An app of its own because it needs every other one (the lab, the structure and openstack models,
core's supervisor), and core must need none of them."""
