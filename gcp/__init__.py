"""Cloud deployment of seed_stac: container entrypoint and Vertex AI submission."""
