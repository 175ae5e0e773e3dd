"""The admin API, one module per resource; each exports ENDPOINTS."""
