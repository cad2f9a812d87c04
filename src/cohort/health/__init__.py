"""Health: `GET /health/live` and `GET /health/ready`, for load balancers and orchestrators."""
