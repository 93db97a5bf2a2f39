"""What the service tells its operators: Prometheus metrics and OpenTelemetry traces."""
